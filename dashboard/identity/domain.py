# Stratus has one identity domain, the Keystone default one, so clients that name it keep working.
DOMAIN = {"id": "default", "name": "Default"}
