"""ccswitch: a call-center softswitch on asyncio (SIP registrar, B2BUA, media, IVR, ACD)."""

__version__ = "0.1.0"
