"""Password hashing and the password policy.

argon2 is deliberately slow (tens of milliseconds of CPU): it runs in a worker thread so that a
login never stalls the event loop, which also serves every other request and the Kafka
heartbeats. The policy is zxcvbn's estimate of how many guesses a password needs, fed with the
account's own words (name, e-mail, phone) and the marketplace's, so that `password12`,
`1234567890`, `aaaaaaaaaa` and "my e-mail as password" are refused while long passphrases in any
language pass.
"""

import asyncio
import re
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from beli_runtime.http import ApiError

_hasher = PasswordHasher()

# zxcvbn scores 0..4; 3 means "safely unguessable: moderate protection from an offline attack"
# (about 10^8 guesses or more), which is what its authors recommend for accounts.
MINIMUM_SCORE = 3
# zxcvbn's cost grows quickly with length; a passphrase longer than this is long enough.
ESTIMATE_CHARACTERS = 64
# Words everyone in this marketplace would try first.
MARKETPLACE_WORDS = ("beli", "ntt", "belintt", "beli-ntt", "nusa", "tenggara", "timur", "kupang", "umkm", "indonesia", "rahasia")

ADVICE = "Gunakan kalimat sandi yang panjang, misalnya tiga atau empat kata yang tidak berhubungan."
REASONS = {
    "user_inputs": "memuat nama, e-mail atau nomor telepon Anda",
    "passwords": "termasuk kata sandi yang paling sering dipakai orang",
    "repeat": "berisi pengulangan seperti 'aaaa' atau 'abcabc'",
    "sequence": "berisi urutan seperti '1234' atau 'abcd'",
    "spatial": "berisi pola papan ketik seperti 'qwerty'",
    "date": "berisi tanggal atau tahun",
    "regex": "berisi tahun",
    "bruteforce": "terlalu pendek atau sederhana",
    "dictionary": "terdiri dari kata yang mudah ditebak",
}


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(stored_hash: str | None, password: str) -> bool:
    """Always does the same work, with or without a stored hash, so timing does not tell who exists."""
    if stored_hash is None:
        await asyncio.to_thread(_hasher.hash, password)
        return False
    try:
        return await asyncio.to_thread(_hasher.verify, stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def personal_words(*facts: str | None) -> list[str]:
    """The account's own words: the whole e-mail, its local part's pieces, name parts, phone."""
    words: list[str] = []
    for fact in facts:
        if fact:
            fact = fact.lower()
            words.append(fact)
            words += [part for part in re.split(r"[^0-9a-z]+", fact.split("@")[0]) if len(part) >= 3]
    return words


def _mostly_personal(password: str, words: list[str]) -> bool:
    """`yohana1990bria`: the account's own words and some digits, nothing else."""
    rest = password.lower()
    for word in sorted(words, key=len, reverse=True):
        rest = rest.replace(word, "")
    return rest != password.lower() and len(re.sub(r"[^a-z]+", "", rest)) < 4


def weakness(password: str, words: list[str]) -> str | None:
    """Why the password is too easy to guess (Bahasa Indonesia), or None if it is strong enough."""
    if words and _mostly_personal(password, words):
        return f"Kata sandi terlalu mudah ditebak: {REASONS['user_inputs']}. {ADVICE}"
    result: dict[str, Any] = zxcvbn(password[:ESTIMATE_CHARACTERS], user_inputs=[*words, *MARKETPLACE_WORDS])
    if result["score"] >= MINIMUM_SCORE:
        return None
    reasons = []
    for match in result["sequence"]:
        key = match.get("dictionary_name") if match["pattern"] == "dictionary" else match["pattern"]
        reason = REASONS.get(key) or REASONS.get(match["pattern"])
        if reason and reason not in reasons and len(match.get("token", "")) >= 3:
            reasons.append(reason)
    detail = "; ".join(reasons[:2]) or REASONS["bruteforce"]
    return f"Kata sandi terlalu mudah ditebak: {detail}. {ADVICE}"


async def ensure_strong(password: str, *facts: str | None) -> None:
    problem = await asyncio.to_thread(weakness, password, personal_words(*facts))
    if problem:
        raise ApiError(422, problem, field="password")
