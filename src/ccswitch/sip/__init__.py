"""ccswitch.sip"""
