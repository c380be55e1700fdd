"""Phone numbers as providers want them: E.164 (+62...), with a clear reason when impossible."""

import functools

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

# WhatsApp and SMS reach mobiles; fixed lines (e.g. Kupang's 0380 numbers) cannot receive them.
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class InvalidPhone(ValueError):
    """The number cannot receive WhatsApp/SMS; the message says why."""


# A payday rush reads the same shoppers' and sellers' numbers again and again: parsing one took 2.7 %
# of the notifications service's time (py-spy --gil, issue 11). A number that cannot be read raises,
# and is not kept.
@functools.lru_cache(maxsize=4096)
def to_e164(raw: str | None, region: str = "ID") -> str:
    if raw is None or not raw.strip():
        raise InvalidPhone("no phone number on record")
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as error:
        raise InvalidPhone(f"phone number {raw!r} cannot be read: {error._msg}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"phone number {raw!r} is not a valid number (region {region})")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidPhone(f"phone number {raw!r} is not a mobile number, so it cannot get WhatsApp or SMS")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def try_e164(raw: str | None, region: str = "ID") -> str | None:
    try:
        return to_e164(raw, region)
    except InvalidPhone:
        return None
