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

#: The object a ground-truth box of each category is on, for box formats that carry no label (Liu & Ma's). Box
#: labels are object phrases ("person", "car"), never category names: the teacher names them in its reasoning and
#: GroundingDINO is prompted with them.
BOX_OBJECT = {"RoadAccidents": "car", "Arson": "fire", "Explosion": "explosion"}


def box_object(category: str) -> str:
    return BOX_OBJECT.get(category, "person")


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
