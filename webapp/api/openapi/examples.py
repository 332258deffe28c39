"""Realistic requests and the answers the API gives them, shown in the document and the README.

tests/test_openapi.py sends each example request to the app and compares the answer with the
example response, and checks that the README shows these same examples.
"""

from __future__ import annotations

REQUEST_ID = "5c0e7a9e2b1d4f6a8c3e9b7d1f2a4c6e"
MODEL_VERSION = "lr-5a55663f"

OLDER_SMOKER = {
    "AGE": 70,
    "GENDER": 1,
    "SMOKING": 1,
    "ALCOHOL CONSUMING": 0,
    "PEER_PRESSURE": 0,
    "YELLOW_FINGERS": 0,
    "ANXIETY": 0,
    "FATIGUE": 0,
    "ALLERGY": 0,
    "WHEEZING": 1,
    "COUGHING": 1,
    "SHORTNESS OF BREATH": 1,
    "SWALLOWING DIFFICULTY": 1,
    "CHEST PAIN": 1,
    "CHRONIC DISEASE": 0,
}
# The same fields spelled with underscores, as many clients send them.
YOUNG_WOMAN = {
    "AGE": 25,
    "GENDER": 0,
    "SMOKING": 0,
    "ALCOHOL_CONSUMING": 0,
    "PEER_PRESSURE": 0,
    "YELLOW_FINGERS": 0,
    "ANXIETY": 0,
    "FATIGUE": 0,
    "ALLERGY": 0,
    "WHEEZING": 0,
    "COUGHING": 0,
    "SHORTNESS_OF_BREATH": 0,
    "SWALLOWING_DIFFICULTY": 0,
    "CHEST_PAIN": 0,
    "CHRONIC_DISEASE": 0,
}
INVALID_RECORD = {**OLDER_SMOKER, "AGE": 130, "GENDER": 2, "CHRONIC DISEASE": "yes"}

_OLDER_SMOKER_RESULT = {
    "prediction": 1,
    "probability": 0.68793,
    "score_display": "69%",
    "risk_level": "moderate",
    "message": "Flagged by this screening model (screening score 69%). This is not a diagnosis: please talk "
    "with a doctor about it. You reported a cough, wheezing, shortness of breath, chest pain and "
    "difficulty swallowing. Whatever the score, please see a doctor about these symptoms, promptly "
    "if they last more than three weeks or get worse. Coughing up blood, severe chest pain or sudden "
    "breathlessness need medical help at once. This advice is a rule for everyone who reports these "
    "symptoms; it does not come from the model. The score comes from a model trained on an online "
    "survey in which 86% of respondents had lung cancer, far more than among people in general. It "
    "ranks answers; it is not your chance of having lung cancer. This is a screening aid, not a "
    "diagnosis.",
    "see_a_doctor_about": [
        "COUGHING",
        "WHEEZING",
        "SHORTNESS OF BREATH",
        "CHEST PAIN",
        "SWALLOWING DIFFICULTY",
    ],
    "factors": [
        {
            "feature": "SWALLOWING DIFFICULTY",
            "label": "Difficulty swallowing",
            "value": 1.0,
            "contribution": 1.2627,
            "direction": "raises",
            "text": "Difficulty swallowing: raises the score",
        },
        {
            "feature": "AGE",
            "label": "Age 70",
            "value": 70.0,
            "contribution": 1.1113,
            "direction": "raises",
            "text": "Age 70: raises the score",
        },
        {
            "feature": "COUGHING",
            "label": "Coughing",
            "value": 1.0,
            "contribution": 1.0493,
            "direction": "raises",
            "text": "Coughing: raises the score",
        },
        {
            "feature": "WHEEZING",
            "label": "Wheezing",
            "value": 1.0,
            "contribution": 0.6387,
            "direction": "raises",
            "text": "Wheezing: raises the score",
        },
        {
            "feature": "SMOKING",
            "label": "Smoking",
            "value": 1.0,
            "contribution": 0.5295,
            "direction": "raises",
            "text": "Smoking: raises the score",
        },
        {
            "feature": "CHEST PAIN",
            "label": "Chest pain",
            "value": 1.0,
            "contribution": 0.4683,
            "direction": "raises",
            "text": "Chest pain: raises the score",
        },
        {
            "feature": "SHORTNESS OF BREATH",
            "label": "Shortness of breath",
            "value": 1.0,
            "contribution": 0.4391,
            "direction": "raises",
            "text": "Shortness of breath: raises the score",
        },
    ],
    "factors_reference": "a 25-year-old woman who answered no to every question",
    "warnings": [],
}
_YOUNG_WOMAN_RESULT = {
    "prediction": 0,
    "probabilities": [0.995681, 0.004319],
    "score_display": "<1%",
    "risk_level": "low",
    "message": "Not flagged by this screening model (screening score <1%). This does not rule out lung cancer "
    "or any other illness. The score comes from a model trained on an online survey in which 86% of "
    "respondents had lung cancer, far more than among people in general. It ranks answers; it is not "
    "your chance of having lung cancer. This is a screening aid, not a diagnosis.",
    "see_a_doctor_about": [],
    "factors": [],
    "factors_reference": "a 25-year-old woman who answered no to every question",
    "warnings": [],
}
_ANSWERED = {"model_version": MODEL_VERSION, "request_id": REQUEST_ID}

#: Request bodies, by operation: {example name: (summary, body)}.
REQUESTS = {
    "predict": {
        "single": ("One record", OLDER_SMOKER),
        "array": ("A batch as a JSON array", [OLDER_SMOKER]),
        "records": ('A batch as {"records": [...]}', {"records": [OLDER_SMOKER]}),
    },
    "predict_proba": {
        "records": (
            'A batch as {"records": [...]}, keys spelled with underscores',
            {"records": [YOUNG_WOMAN]},
        ),
        "single": ("One record", YOUNG_WOMAN),
        "array": ("A batch as a JSON array", [YOUNG_WOMAN]),
    },
}

#: The 200 answer to each request example above (sent with X-Request-ID: REQUEST_ID).
RESPONSES = {
    "predict": {
        "single": {**_OLDER_SMOKER_RESULT, **_ANSWERED},
        "array": {"predictions": [_OLDER_SMOKER_RESULT], "count": 1, **_ANSWERED},
        "records": {"predictions": [_OLDER_SMOKER_RESULT], "count": 1, **_ANSWERED},
    },
    "predict_proba": {
        "records": {"predictions": [_YOUNG_WOMAN_RESULT], "count": 1, **_ANSWERED},
        "single": {**_YOUNG_WOMAN_RESULT, **_ANSWERED},
        "array": {"predictions": [_YOUNG_WOMAN_RESULT], "count": 1, **_ANSWERED},
    },
}

#: The 422 answer to INVALID_RECORD: every bad field is named.
VALIDATION_ERROR = {
    "error": {
        "code": "validation_error",
        "message": "Invalid input: AGE, GENDER, CHRONIC DISEASE.",
        "details": {
            "AGE": ["Must be between 0 and 120."],
            "GENDER": ["Must be 1 (male) or 0 (female)."],
            "CHRONIC DISEASE": ["Must be 0 or 1 (true/false also accepted)."],
        },
    },
    "request_id": REQUEST_ID,
}


def error(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}, "request_id": REQUEST_ID}
