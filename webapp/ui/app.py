"""The page layout: `build_demo()` wires components to the handlers. Nothing launches here."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from .. import features, wording
from ..proxy import APIProxyClient
from .batch import TABLE_COLUMNS
from .formatting import DISCLAIMER, LOG_COLUMNS
from .handlers import CONSOLE_ENDPOINTS, Handlers
from .settings import UISettings

CSS_PATH = Path(__file__).with_name("theme.css")

SYMPTOMS = ("YELLOW_FINGERS", "FATIGUE", "WHEEZING", "COUGHING", "SHORTNESS OF BREATH",
            "SWALLOWING DIFFICULTY", "CHEST PAIN")
HABITS_AND_HISTORY = ("SMOKING", "ALCOHOL CONSUMING", "PEER_PRESSURE", "ANXIETY", "ALLERGY",
                      "CHRONIC DISEASE")
EXAMPLE_RECORD = {name: 0 for name in features.FEATURES} | {"AGE": 62, "GENDER": 1, "SMOKING": 1,
                                                           "COUGHING": 1}

# Every event that calls the API shares one concurrency group, so at most `concurrency`
# handlers talk to the API at once: exactly the number of connections the pooled proxy keeps.
API_GROUP = "api"


def build_demo(settings: UISettings | None = None, client: APIProxyClient | None = None) -> gr.Blocks:
    settings = settings or UISettings.from_env()
    handlers = Handlers(client or settings.make_client(), settings)
    limits = {"concurrency_limit": settings.concurrency, "concurrency_id": API_GROUP}
    ui_only = {"api_visibility": "private", **limits}

    with gr.Blocks(title="Lung cancer risk screening") as demo:
        gr.Markdown(wording.UI_INTRO)
        gr.HTML(f'<div class="lr-disclaimer-banner">{DISCLAIMER}</div>')

        with gr.Tab("Risk check"):
            with gr.Row():
                with gr.Column(scale=5):
                    age = gr.Slider(features.AGE_MIN, features.AGE_MAX, value=50, step=1, label="Age (years)",
                                    info=f"The survey covered ages {features.TRAIN_AGE_MIN} to "
                                         f"{features.TRAIN_AGE_MAX}; outside them the estimate is "
                                         "an extrapolation.", elem_id="age")
                    gender = gr.Radio(["Female", "Male"], value="Female", label="Gender", elem_id="gender")
                    checks = {}
                    with gr.Row():
                        with gr.Group(elem_classes="lr-group"):
                            gr.Markdown("**Symptoms**", padding=True)
                            for name in SYMPTOMS:
                                checks[name] = gr.Checkbox(label=features.LABELS[name], elem_id=_slug(name))
                        with gr.Group(elem_classes="lr-group"):
                            gr.Markdown("**Habits and history**", padding=True)
                            for name in HABITS_AND_HISTORY:
                                checks[name] = gr.Checkbox(label=features.LABELS[name], elem_id=_slug(name))
                    with gr.Row():
                        predict_button = gr.Button("Predict", variant="primary", elem_id="predict")
                        reset_button = gr.ClearButton(value="Start over")
                with gr.Column(scale=4):
                    result = gr.HTML('<div class="lr-card lr-empty">Your result will show here.</div>',
                                     elem_id="result")
                    with gr.Accordion(wording.UI_LEVELS_ACCORDION, open=True):
                        bands = gr.HTML()
            inputs = [age, gender, *(checks[name] for name in features.BINARY_FEATURES)]
            reset_button.add([*inputs[2:], result])
            predict_button.click(handlers.predict, inputs, result, **ui_only)
            demo.load(handlers.bands, None, bands, **ui_only)

        with gr.Tab("Batch (CSV)"):
            gr.Markdown(
                "Upload a CSV with the 15 input columns (`AGE`, `GENDER`, `SMOKING`, ... any case, "
                "spaces or underscores). GENDER is M/F or 1/0 (1 = male). Yes/no columns accept yes/no, "
                "0/1 (1 = yes), or the published survey's coding 1/2 (2 = yes). A `LUNG_CANCER` column "
                "is ignored. Rows with problems are listed by line number; the others are scored.")
            upload = gr.File(label="CSV file", file_types=[".csv"], elem_id="batch-upload")
            score_button = gr.Button("Score file", variant="primary", elem_id="batch-score")
            summary = gr.Markdown(elem_id="batch-summary")
            table = gr.Dataframe(headers=TABLE_COLUMNS, label="Scores", interactive=False,
                                 elem_id="batch-table")
            download = gr.File(label="Download the scores (CSV)", interactive=False, elem_id="batch-download")
            # Private, under its own name: programs call `score_csv`, which raises on failures.
            score_button.click(handlers.score_csv, upload, [summary, table, download],
                               api_name="score_csv_tab", **ui_only)

        with gr.Tab("Admin"):
            token = gr.Textbox(label="Admin token", type="password", placeholder="ADMIN_TOKEN of the API",
                               elem_id="admin-token")
            with gr.Row():
                limit = gr.Dropdown([10, 20, 50, 100, 500], value=20, label="Entries per page", scale=1)
                offset = gr.Number(value=0, precision=0, label="Offset", interactive=False, scale=1)
                refresh = gr.Button("Refresh", scale=1)
                previous = gr.Button("Newer", scale=1)
                following = gr.Button("Older", scale=1)
            caption = gr.Markdown()
            log_table = gr.Dataframe(headers=LOG_COLUMNS, label="Recent predictions", interactive=False,
                                     wrap=True)
            with gr.Row():
                clear_button = gr.Button("Clear the log...", variant="stop")
            with gr.Row(visible=False) as confirm_row:
                gr.Markdown("**Delete every entry of the prediction log?** This cannot be undone.")
                confirm = gr.Button("Yes, clear the log", variant="stop")
                cancel = gr.Button("Cancel")
            clear_status = gr.Markdown()
            with gr.Accordion("Service status", open=True):
                status = gr.Markdown()
                status_button = gr.Button("Refresh status")
            page = [token, limit, offset]
            page_out = [log_table, caption, offset]
            refresh.click(handlers.logs, page, page_out, **ui_only)
            limit.change(lambda t, n: handlers.logs(t, n, 0), [token, limit], page_out, **ui_only)
            following.click(handlers.next_page, page, page_out, **ui_only)
            previous.click(handlers.previous_page, page, page_out, **ui_only)
            clear_button.click(lambda: gr.Row(visible=True), None, confirm_row, api_visibility="private")
            cancel.click(lambda: gr.Row(visible=False), None, confirm_row, api_visibility="private")
            confirm.click(handlers.clear, token, clear_status, **ui_only).then(
                lambda: gr.Row(visible=False), None, confirm_row, api_visibility="private").then(
                handlers.logs, page, page_out, **ui_only)
            status_button.click(handlers.status, None, status, **ui_only)
            demo.load(handlers.status, None, status, **ui_only)

        with gr.Tab("Developer console"):
            gr.Markdown(f"Raw requests to the API at `{settings.api_url}` and its raw answers.")
            with gr.Row():
                endpoint = gr.Dropdown(list(CONSOLE_ENDPOINTS), value="GET /health", label="Endpoint")
                console_limit = gr.Number(value=20, precision=0, label="limit (logs)")
                console_offset = gr.Number(value=0, precision=0, label="offset (logs)")
                console_token = gr.Textbox(label="Admin token (logs)", type="password")
            request_body = gr.Code(json.dumps(EXAMPLE_RECORD, indent=2), language="json",
                                   label="Request body (POST)")
            send = gr.Button("Send", variant="primary")
            with gr.Row():
                sent = gr.JSON(label="Request sent", open=True)
                answer = gr.JSON(label="Response", open=True)
            send.click(handlers.console,
                       [endpoint, request_body, console_limit, console_offset, console_token],
                       [sent, answer], **ui_only)

        _program_access(handlers, limits)

    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    return demo


#: The gradio_client endpoints: name, handler, inputs. `api_clear_logs_proxy` is the reference
#: service's name for `clear_logs_api`, kept so its programs work unchanged.
PROGRAM_ENDPOINTS = (
    ("health", "health_api", ()),
    ("predict_api", "predict_api", ("record",)),
    ("predict_proba_api", "predict_proba_api", ("record",)),
    ("logs_api", "logs_api", ("limit", "offset", "admin_token")),
    ("clear_logs_api", "clear_logs_api", ("admin_token",)),
    ("api_clear_logs_proxy", "clear_logs_api", ("admin_token",)),
)


def _program_access(handlers: Handlers, limits: dict) -> None:
    """The endpoints programs call (existing clients of the public Space too), on hidden events.

    Each raises gr.Error when the API answers an error or cannot be reached. The parameter
    names are the handlers' own, so programs pass them by keyword (`admin_token=...`).
    """
    with gr.Column(visible=False):
        components = {
            "record": gr.JSON(value=EXAMPLE_RECORD, label="record"),
            "limit": gr.Number(value=50, precision=0, label="limit"),
            "offset": gr.Number(value=0, precision=0, label="offset"),
            "admin_token": gr.Textbox(value="", label="admin_token"),
        }
        json_out = gr.JSON(label="response")
        for name, handler, inputs in PROGRAM_ENDPOINTS:
            gr.Button(visible=False).click(getattr(handlers, handler), [components[i] for i in inputs],
                                           json_out, api_name=name, **limits)
        csv_in = gr.File(label="csv_file", file_types=[".csv"])
        gr.Button(visible=False).click(
            handlers.score_csv_api, csv_in,
            [gr.Markdown(), gr.Dataframe(headers=TABLE_COLUMNS), gr.File()],
            api_name="score_csv", **limits)


def _slug(name: str) -> str:
    return "q-" + features.normalize_name(name).lower()
