"""ccswitch.acd"""
