"""The 41 phone classes: label i of a frame is PHONES[i].

The course data uses 41 classes (39 ARPAbet phones plus silence and spoken noise); the embedded
corpus writes labels in this order, and `sweeper data info` prints it.
"""

ARPABET = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip

PHONES: tuple[str, ...] = ("sil", *ARPABET, "spn")
NUM_CLASSES = len(PHONES)
FEATURE_DIM = 39
SILENCE = PHONES.index("sil")
SPOKEN_NOISE = PHONES.index("spn")

assert NUM_CLASSES == 41
