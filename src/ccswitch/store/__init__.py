"""ccswitch.store"""
