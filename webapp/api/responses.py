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


def items(results, with_probabilities: bool, reference: str) -> list[dict[str, Any]]:
    """`item` of each row of the model service's Predictions (a batch scored at once).

    The same fields in the same order; the rounding is already done by predict_many, and rows
    share the factor objects that are equal in them rather than copy them (never change one).
    Their JSON, when the model service gives it, stands in for them: the same bytes in the answer.
    """
    columns = (
        results.prediction,
        results.probability,
        results.complement,
        results.score_display,
        results.risk_level,
        results.message,
        results.see_a_doctor_about,
        results.factors if results.factors_json is None else results.factors_json,
        results.warnings,
    )
    if with_probabilities:
        return [
            {
                "prediction": prediction,
                "probabilities": [complement, probability],
                "score_display": score,
                "risk_level": level,
                "message": message,
                "see_a_doctor_about": symptoms,
                "factors": factors,
                "factors_reference": reference,
                "warnings": warnings,
            }
            for prediction, probability, complement, score, level, message, symptoms, factors, warnings in zip(
                *columns, strict=True
            )
        ]
    return [
        {
            "prediction": prediction,
            "probability": probability,
            "score_display": score,
            "risk_level": level,
            "message": message,
            "see_a_doctor_about": symptoms,
            "factors": factors,
            "factors_reference": reference,
            "warnings": warnings,
        }
        for prediction, probability, _complement, score, level, message, symptoms, factors, warnings in zip(
            *columns, strict=True
        )
    ]


def body(items: list[dict[str, Any]], is_batch: bool, model_version: str, request_id: str) -> dict[str, Any]:
    """One record's item, or {"predictions": [...], "count": n} for a batch; both with the
    model version and the request id."""
    answer = {"predictions": items, "count": len(items)} if is_batch else items[0]
    answer["model_version"] = model_version
    answer["request_id"] = request_id
    return answer
