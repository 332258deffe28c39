"""The page layout: `build_demo()` wires components to the handlers. Nothing launches here."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from .. import features, i18n
from ..proxy import APIProxyClient
from .handlers import CONSOLE_ENDPOINTS, DEFAULT_AGE, DEFAULT_GENDER, Handlers
from .settings import UISettings

CSS_PATH = Path(__file__).with_name("theme.css")
# Gradio's Soft theme with the indigo accent one step darker and grey help text darkened, so
# text meets WCAG AA contrast (4.5:1): indigo-500 #6366f1 on its own #e0e7ff is 3.6:1 and white
# on it 4.46:1; indigo-700 #4338ca gives 6.4:1 and 7.9:1; grey-400 help text (2.5:1) becomes
# grey-600 (7.6:1).
ACCENT = gr.themes.Color(
    name="accessible_indigo",
    c50="#eef2ff",
    c100="#e0e7ff",
    c200="#c7d2fe",
    c300="#a5b4fc",
    c400="#4f46e5",
    c500="#4338ca",
    c600="#3730a3",
    c700="#312e81",
    c800="#2e2a6e",
    c900="#25215a",
    c950="#1e1b4b",
)
THEME = gr.themes.Soft(primary_hue=ACCENT).set(
    block_info_text_color="*neutral_600",
    body_text_color_subdued="*neutral_600",
    block_label_text_color="*primary_500",
)

SYMPTOMS = (
    "COUGHING",
    "WHEEZING",
    "SHORTNESS OF BREATH",
    "CHEST PAIN",
    "SWALLOWING DIFFICULTY",
    "FATIGUE",
    "YELLOW_FINGERS",
)
HABITS = ("SMOKING", "ALCOHOL CONSUMING", "PEER_PRESSURE")
CONDITIONS = ("ANXIETY", "ALLERGY", "CHRONIC DISEASE")
EXAMPLE_RECORD = {name: 0 for name in features.FEATURES} | {
    "AGE": 62,
    "GENDER": 1,
    "SMOKING": 1,
    "COUGHING": 1,
}

# Every event that calls the API shares one concurrency group, so at most `concurrency`
# handlers talk to the API at once: exactly the number of connections the pooled proxy keeps.
API_GROUP = "api"

#: The static text of the page, translated by Gradio's front end in the browser's language
#: (or the one chosen with the switch, see webapp.ui.language).
I18N = gr.I18n(**i18n.gradio_translations())
_ = I18N

# The page's language as Gradio's front end chose it, read once the page has loaded; handlers
# take it as their last input and answer in it.
PAGE_LANGUAGE_JS = "() => document.documentElement.lang || navigator.language"
# After "Predict": the result's heading takes the focus, which brings it into view (on a phone
# it is below the form) and makes screen readers start reading there.
SHOW_RESULT_JS = """() => {
  const heading = document.querySelector('#lr-result-heading, #lr-error h2');
  const target = document.querySelector('#lr-result, #lr-error') || document.getElementById('result');
  if (target) { target.scrollIntoView({behavior: 'smooth', block: 'start'}); }
  if (heading) { heading.focus({preventScroll: true}); }
}"""
# The result's container is a polite live region: a new result is announced to screen readers.
LIVE_REGION_JS = """() => {
  const box = document.getElementById('result');
  if (box) { box.setAttribute('aria-live', 'polite'); box.setAttribute('aria-atomic', 'true'); }
}"""


def build_demo(settings: UISettings | None = None, client: APIProxyClient | None = None) -> gr.Blocks:
    settings = settings or UISettings.from_env()
    handlers = Handlers(client or settings.make_client(), settings)
    limits = {"concurrency_limit": settings.concurrency, "concurrency_id": API_GROUP}
    ui_only = {"api_visibility": "private", **limits}

    with gr.Blocks(title="Lung cancer screening score · Score de dépistage du cancer du poumon") as demo:
        language = gr.Textbox(visible=False, elem_id="lr-page-language")
        gr.HTML(_("ui.language_switch"), elem_classes="lr-lang-row")
        gr.Markdown(_("ui.intro"))
        gr.HTML(_("ui.disclaimer_banner"))

        with gr.Tab(_("ui.tab_risk")):
            with gr.Row():
                with gr.Column(scale=5):
                    age = gr.Slider(
                        features.AGE_MIN,
                        features.AGE_MAX,
                        value=DEFAULT_AGE,
                        step=1,
                        label=_("ui.age"),
                        info=_("ui.age_info"),
                        elem_id="age",
                    )
                    gender = gr.Radio(
                        [(_("ui.female"), "female"), (_("ui.male"), "male")],
                        value=DEFAULT_GENDER,
                        label=_("ui.gender"),
                        elem_id="gender",
                    )
                    checks = {}
                    with gr.Row():
                        for title, names in (
                            ("ui.group_symptoms", SYMPTOMS),
                            ("ui.group_habits", HABITS),
                            ("ui.group_conditions", CONDITIONS),
                        ):
                            with gr.Group(elem_classes="lr-group"):
                                gr.Markdown(_(title), padding=True)
                                for name in names:
                                    checks[name] = gr.Checkbox(
                                        label=_(i18n.feature_key(name)), elem_id=_slug(name)
                                    )
                    with gr.Row():
                        predict_button = gr.Button(_("ui.predict"), variant="primary", elem_id="predict")
                        reset_button = gr.Button(_("ui.start_over"), elem_id="start-over")
                with gr.Column(scale=4):
                    result = gr.HTML(_("ui.result_placeholder"), elem_id="result")
                    with gr.Accordion(_("ui.bands_title"), open=True):
                        bands = gr.HTML(_("ui.bands_placeholder"), elem_id="bands")
            inputs = [age, gender, *(checks[name] for name in features.BINARY_FEATURES)]
            predict_button.click(handlers.predict_for_visitor, [*inputs, language], result, **ui_only).then(
                None, None, None, js=SHOW_RESULT_JS
            )
            reset_button.click(handlers.start_over, language, [*inputs, result], api_visibility="private")

        with gr.Tab(_("ui.tab_batch")):
            gr.Markdown(_("ui.batch_help"))
            upload = gr.File(label=_("ui.csv_file"), file_types=[".csv"], elem_id="batch-upload")
            score_button = gr.Button(_("ui.score_file"), variant="primary", elem_id="batch-score")
            summary = gr.Markdown(elem_id="batch-summary")
            table = gr.Dataframe(label=_("ui.batch_table"), interactive=False, elem_id="batch-table")
            download = gr.File(label=_("ui.download"), interactive=False, elem_id="batch-download")
            score_button.click(
                handlers.score_csv,
                [upload, language],
                [summary, table, download],
                api_name="score_csv_in_page_language",
                **ui_only,
            )

        with gr.Tab(_("ui.tab_admin")):
            token = gr.Textbox(
                label=_("ui.admin_token"),
                type="password",
                placeholder=_("ui.admin_token_placeholder"),
                elem_id="admin-token",
            )
            with gr.Row():
                limit = gr.Dropdown([10, 20, 50, 100, 500], value=20, label=_("ui.entries_per_page"), scale=1)
                offset = gr.Number(value=0, precision=0, label=_("ui.offset"), interactive=False, scale=1)
                refresh = gr.Button(_("ui.refresh"), scale=1)
                previous = gr.Button(_("ui.newer"), scale=1)
                following = gr.Button(_("ui.older"), scale=1)
            caption = gr.Markdown()
            log_table = gr.Dataframe(
                label=_("ui.log_table"), interactive=False, wrap=True, elem_id="admin-log-table"
            )
            with gr.Row():
                clear_button = gr.Button(_("ui.clear_log"), variant="stop")
            with gr.Row(visible=False) as confirm_row:
                gr.Markdown(_("ui.clear_question"))
                confirm = gr.Button(_("ui.clear_confirm"), variant="stop")
                cancel = gr.Button(_("ui.cancel"))
            clear_status = gr.Markdown()
            with gr.Accordion(_("ui.service_status"), open=True):
                status = gr.Markdown(elem_id="service-status")
                status_button = gr.Button(_("ui.refresh_status"))
            page = [token, limit, offset, language]
            page_out = [log_table, caption, offset]
            refresh.click(handlers.logs, page, page_out, **ui_only)
            limit.change(
                lambda t, n, lang: handlers.logs(t, n, 0, lang), [token, limit, language], page_out, **ui_only
            )
            following.click(handlers.next_page, page, page_out, **ui_only)
            previous.click(handlers.previous_page, page, page_out, **ui_only)
            clear_button.click(lambda: gr.Row(visible=True), None, confirm_row, api_visibility="private")
            cancel.click(lambda: gr.Row(visible=False), None, confirm_row, api_visibility="private")
            confirm.click(handlers.clear, [token, language], clear_status, **ui_only).then(
                lambda: gr.Row(visible=False), None, confirm_row, api_visibility="private"
            ).then(handlers.logs, page, page_out, **ui_only)
            status_button.click(handlers.status, language, status, **ui_only)

        with gr.Tab(_("ui.tab_console")):
            gr.Markdown(_("ui.console_intro"))
            gr.Markdown(f"API: `{settings.api_url}`")
            with gr.Row():
                endpoint = gr.Dropdown(list(CONSOLE_ENDPOINTS), value="GET /health", label=_("ui.endpoint"))
                console_limit = gr.Number(value=20, precision=0, label=_("ui.console_limit"))
                console_offset = gr.Number(value=0, precision=0, label=_("ui.console_offset"))
                console_token = gr.Textbox(label=_("ui.console_token"), type="password")
            request_body = gr.Code(
                json.dumps(EXAMPLE_RECORD, indent=2),
                language="json",
                label=_("ui.request_body"),
                elem_id="console-body",
            )
            send = gr.Button(_("ui.send"), variant="primary")
            with gr.Row():
                sent = gr.JSON(label=_("ui.request_sent"), open=True)
                answer = gr.JSON(label=_("ui.response"), open=True)
            send.click(
                handlers.console,
                [endpoint, request_body, console_limit, console_offset, console_token, language],
                [sent, answer],
                **ui_only,
            )

        # Once the page knows its language: the live region, then what the server writes in it
        # (the risk levels last: when they show, the page is complete).
        demo.load(None, None, language, js=PAGE_LANGUAGE_JS).then(None, None, None, js=LIVE_REGION_JS).then(
            handlers.empty_tables, language, [table, log_table], api_visibility="private"
        ).then(handlers.status, language, status, **ui_only).then(handlers.bands, language, bands, **ui_only)

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
            gr.Button(visible=False).click(
                getattr(handlers, handler), [components[i] for i in inputs], json_out, api_name=name, **limits
            )
        csv_in = gr.File(label="csv_file", file_types=[".csv"])
        gr.Button(visible=False).click(
            handlers.score_csv_api,
            csv_in,
            [gr.Markdown(), gr.Dataframe(), gr.File()],
            api_name="score_csv",
            **limits,
        )


def _slug(name: str) -> str:
    return "q-" + features.normalize_name(name).lower()
