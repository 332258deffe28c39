"""Realistic requests and the answers the API gives them, shown in the document and the README.

tests/test_openapi.py sends each example request to the app and compares the answer with the
example response, and checks that the README shows these same examples.
"""
from __future__ import annotations

REQUEST_ID = "5c0e7a9e2b1d4f6a8c3e9b7d1f2a4c6e"
MODEL_VERSION = "lr-e0ddabe4"

OLDER_SMOKER = {
    "AGE": 70, "GENDER": 1, "SMOKING": 1, "ALCOHOL CONSUMING": 0, "PEER_PRESSURE": 0,
    "YELLOW_FINGERS": 0, "ANXIETY": 0, "FATIGUE": 0, "ALLERGY": 0, "WHEEZING": 1,
    "COUGHING": 1, "SHORTNESS OF BREATH": 1, "SWALLOWING DIFFICULTY": 1, "CHEST PAIN": 1,
    "CHRONIC DISEASE": 0,
}
# The same fields spelled with underscores, as many clients send them.
YOUNG_WOMAN = {
    "AGE": 25, "GENDER": 0, "SMOKING": 0, "ALCOHOL_CONSUMING": 0, "PEER_PRESSURE": 0,
    "YELLOW_FINGERS": 0, "ANXIETY": 0, "FATIGUE": 0, "ALLERGY": 0, "WHEEZING": 0, "COUGHING": 0,
    "SHORTNESS_OF_BREATH": 0, "SWALLOWING_DIFFICULTY": 0, "CHEST_PAIN": 0, "CHRONIC_DISEASE": 0,
}
INVALID_RECORD = {**OLDER_SMOKER, "AGE": 130, "GENDER": 2, "CHRONIC DISEASE": "yes"}

_DISCLAIMER = "This is a screening aid, not a diagnosis."
_OLDER_SMOKER_RESULT = {
    "prediction": 1,
    "probability": 0.664447,
    "risk_level": "moderate",
    "message": f"Moderate risk (66%): worth discussing with a doctor. {_DISCLAIMER}",
    "factors": [
        {"feature": "FATIGUE", "label": "Fatigue", "value": 0.0, "contribution": -0.8688},
        {"feature": "ALLERGY", "label": "Allergy", "value": 0.0, "contribution": -0.7805},
        {"feature": "SWALLOWING DIFFICULTY", "label": "Difficulty swallowing", "value": 1.0, "contribution": 0.6748},
        {"feature": "ALCOHOL CONSUMING", "label": "Drinks alcohol", "value": 0.0, "contribution": -0.6624},
        {"feature": "CHRONIC DISEASE", "label": "Chronic disease", "value": 0.0, "contribution": -0.6226},
    ],
    "warnings": [],
}
_YOUNG_WOMAN_RESULT = {
    "prediction": 0,
    "probabilities": [0.994462, 0.005538],
    "risk_level": "low",
    "message": "Low risk (1%, below this model's 63% screening threshold): see a doctor if symptoms "
               f"appear or persist. {_DISCLAIMER}",
    "factors": [
        {"feature": "AGE", "label": "Age", "value": 25.0, "contribution": -0.9206},
        {"feature": "FATIGUE", "label": "Fatigue", "value": 0.0, "contribution": -0.8688},
        {"feature": "ALLERGY", "label": "Allergy", "value": 0.0, "contribution": -0.7805},
        {"feature": "ALCOHOL CONSUMING", "label": "Drinks alcohol", "value": 0.0, "contribution": -0.6624},
        {"feature": "CHRONIC DISEASE", "label": "Chronic disease", "value": 0.0, "contribution": -0.6226},
    ],
    "warnings": [],
}
_ANSWERED = {"model_version": MODEL_VERSION, "request_id": REQUEST_ID}

#: Request bodies, by operation: {example name: (summary, body)}.
REQUESTS = {
    "predict": {
        "single": ("One record", OLDER_SMOKER),
        "array": ("A batch as a JSON array", [OLDER_SMOKER]),
        "records": ("A batch as {\"records\": [...]}", {"records": [OLDER_SMOKER]}),
    },
    "predict_proba": {
        "records": ("A batch as {\"records\": [...]}, keys spelled with underscores", {"records": [YOUNG_WOMAN]}),
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
