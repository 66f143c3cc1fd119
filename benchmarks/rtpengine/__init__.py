"""rtpengine as the relay peer of ``rtp_load.py``: its config, an ng client, the daemon wrapper."""
