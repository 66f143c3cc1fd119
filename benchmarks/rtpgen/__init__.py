"""The RTP load generator (rtpgen.c, built by rtp_load.py) and its validation peers."""
