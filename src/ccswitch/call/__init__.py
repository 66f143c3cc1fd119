"""ccswitch.call"""
