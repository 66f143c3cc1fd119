"""ccswitch.io"""
