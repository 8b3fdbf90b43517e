"""Anomaly categories: UCF-Crime's 13 classes plus Normal, and the XD-Violence code map.

The answer grammar (and the constrained decoder) accepts exactly these category names.
"""

NORMAL = "Normal"

#: UCF-Crime classes (label_map of the community's evaluation code), Normal last.
UCF_CRIME_CLASSES = (
    "Abuse",
    "Arrest",
    "Arson",
    "Assault",
    "Burglary",
    "Explosion",
    "Fighting",
    "RoadAccidents",
    "Robbery",
    "Shooting",
    "Shoplifting",
    "Stealing",
    "Vandalism",
)

CATEGORIES = (*UCF_CRIME_CLASSES, NORMAL)
CATEGORY_INDEX = {name: i for i, name in enumerate(CATEGORIES)}

#: XD-Violence label codes (A = normal; there is no B3) mapped to the nearest UCF-Crime class name.
XD_CODES = {
    "A": NORMAL,
    "B1": "Fighting",
    "B2": "Shooting",
    "B4": "Riot",
    "B5": "Abuse",
    "B6": "RoadAccidents",
    "G": "Explosion",
}
