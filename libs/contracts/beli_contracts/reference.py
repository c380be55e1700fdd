"""Vocabulary every service shares: events carry these values and levy rules are scoped by them."""

# The 22 regencies and cities (kabupaten/kota) of Nusa Tenggara Timur.
REGENCIES: tuple[str, ...] = (
    "Kota Kupang",
    "Kupang",
    "Timor Tengah Selatan",
    "Timor Tengah Utara",
    "Belu",
    "Malaka",
    "Alor",
    "Lembata",
    "Flores Timur",
    "Sikka",
    "Ende",
    "Nagekeo",
    "Ngada",
    "Manggarai Timur",
    "Manggarai",
    "Manggarai Barat",
    "Sumba Barat Daya",
    "Sumba Barat",
    "Sumba Tengah",
    "Sumba Timur",
    "Rote Ndao",
    "Sabu Raijua",
)

# Product categories, fixed so that levy rules and reports can be scoped by them.
CATEGORIES: dict[str, str] = {
    "tenun": "Tenun ikat dan kain tradisional",
    "kopi": "Kopi (Bajawa, Manggarai, dll.)",
    "madu": "Madu hutan",
    "garam": "Garam",
    "pangan": "Pangan olahan (jagung bose, kue, keripik)",
    "daging_olahan": "Daging olahan (sei)",
    "kelor": "Produk kelor (moringa)",
    "mete": "Jambu mete",
    "minyak_kelapa": "Minyak kelapa murni (VCO)",
    "kerajinan": "Kerajinan tangan",
    "lainnya": "Lainnya",
}
