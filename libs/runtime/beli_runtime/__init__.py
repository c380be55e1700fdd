"""The runtime every Beli NTT service is built on."""
