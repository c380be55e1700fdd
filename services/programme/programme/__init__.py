"""Gerakan Beli NTT: the ASN monthly commitment, OPD compliance and the programme targets."""
