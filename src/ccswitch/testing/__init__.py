"""ccswitch.testing"""
