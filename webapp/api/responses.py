"""What /predict and /predict_proba answer: one item per scored record, and the batch envelope."""

from __future__ import annotations

from typing import Any


def factor(factor) -> dict[str, Any]:
    return {
        "feature": factor.feature,
        "label": factor.label,
        "value": factor.value,
        "contribution": round(factor.contribution, 4),
        "direction": factor.direction,
        "text": factor.text,
    }


def item(result, with_probabilities: bool, reference: str) -> dict[str, Any]:
    """The answer for one record, from the model service's Prediction."""
    answer: dict[str, Any] = {"prediction": result.prediction}
    if with_probabilities:
        answer["probabilities"] = [round(1.0 - result.probability, 6), round(result.probability, 6)]
    else:
        answer["probability"] = round(result.probability, 6)
    answer["score_display"] = result.score_display
    answer["risk_level"] = result.risk_level
    answer["message"] = result.message
    answer["see_a_doctor_about"] = list(result.see_a_doctor_about)
    answer["factors"] = [factor(each) for each in result.factors]
    answer["factors_reference"] = reference
    answer["warnings"] = list(result.warnings)
    return answer


def body(items: list[dict[str, Any]], is_batch: bool, model_version: str, request_id: str) -> dict[str, Any]:
    """One record's item, or {"predictions": [...], "count": n} for a batch; both with the
    model version and the request id."""
    answer = {"predictions": items, "count": len(items)} if is_batch else items[0]
    answer["model_version"] = model_version
    answer["request_id"] = request_id
    return answer
