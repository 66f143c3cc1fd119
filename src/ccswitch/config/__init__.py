"""ccswitch.config"""
