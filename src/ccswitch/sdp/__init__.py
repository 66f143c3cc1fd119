"""ccswitch.sdp"""
