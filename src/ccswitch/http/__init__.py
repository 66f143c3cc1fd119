"""ccswitch.http"""
