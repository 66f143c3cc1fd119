"""ccswitch.media"""
