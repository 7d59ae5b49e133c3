#!/usr/bin/env python3
"""Expected chat-template renderings for tests/test_chat_template.cpp, made with the reference implementation.

Renders, the way Hugging Face transformers' apply_chat_template does (jinja2 ImmutableSandboxedEnvironment with
trim_blocks=True, lstrip_blocks=True and the loopcontrols extension; its json.dumps-based tojson filter;
raise_exception and strftime_now globals; tools=None and documents=None unless given):
  - every template of ../shared/templates, every tokenizer.chat_template of the GGUF files under ../shared, and every
    built-in template of src/chat/builtin_templates.cpp, with a set of conversations (plain ones with and without the
    generation prompt, and, for ../shared/templates, some with tools);
  - small templates exercising single Jinja features.
and writes the outcomes to tests/data/chat_expectations.json. The templates themselves are not copied there: the
file records each template's size and FNV-1a hash, and the C++ test reads the sources (../shared at test time, the
built-ins from the library) and checks that they are still the ones the expectations were made from.

usage: scripts/gen_chat_expectations.py [--check]   (--check: compare with the committed file, write nothing)
Needs: Python 3 with jinja2 (made with 3.1.6). The C++ test does not need Python.
"""
import datetime
import json
import os
import re
import struct
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")
TEMPLATES = os.path.join(SHARED, "templates")
OUTPUT = os.path.join(ROOT, "tests", "data", "chat_expectations.json")
BUILTINS_SOURCE = os.path.join(ROOT, "src", "chat", "builtin_templates.cpp")
FIXED_NOW = datetime.datetime(2024, 9, 5, 14, 30, 0)  # what strftime_now() formats; the C++ test sets the same

# template file -> (bos_token, eos_token) of the real model
TEMPLATE_TOKENS = {
    "Qwen-Qwen2.5-7B-Instruct.jinja": ("", "<|im_end|>"),
    "meta-llama-Llama-3.1-8B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.3-70B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("<s>", "</s>"),
    "microsoft-Phi-3.5-mini-instruct.jinja": ("<s>", "<|endoftext|>"),
    "google-gemma-2-2b-it.jinja": ("<bos>", "<eos>"),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "llama-cpp-deepseek-r1.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": ("<|begin_of_text|>", "<|im_end|>"),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": ("<|begin_of_text|>", "<|im_end|>"),
    "meetkai-functionary-medium-v3.1.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meetkai-functionary-medium-v3.2.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "CohereForAI-c4ai-command-r-plus-tool_use.jinja": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    "fireworks-ai-llama-3-firefunction-v2.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
}


def msg(role, content):
    return {"role": role, "content": content}


SYSTEM = msg("system", "You are a helpful assistant.")

# Plain conversations: every template, with and without the generation prompt.
PLAIN = {
    "system_user": [SYSTEM, msg("user", "Hello!")],
    "user_only": [msg("user", "What is 2+2?")],
    "multi_turn": [SYSTEM, msg("user", "Hi"), msg("assistant", "Hello! How can I help?"), msg("user", "Tell me a joke.")],
    "multi_turn_no_system": [msg("user", "Hi"), msg("assistant", "Hello."), msg("user", "Bye"), msg("assistant", "Bye!")],
    "special_chars": [msg("user", "Quotes ' \" backslash \\ braces {{ x }} {% if %} {# c #} <b>&amp;</b>\ttab\nnew line")],
    "whitespace": [msg("system", "  padded system  \n"), msg("user", "\n  leading and trailing  \n\n")],
    "unicode": [msg("system", "Réponds en français 🙂"), msg("user", "日本語 — ñ ü ß Ω 😀\u2028end")],
    "empty_content": [msg("system", ""), msg("user", "")],
    "think": [msg("user", "2+2?"), msg("assistant", "<think>\nadd them\n</think>\n\nIt is 4."), msg("user", "and 3+3?")],
    "long_conversation": [SYSTEM] + [msg("user" if i % 2 == 0 else "assistant", f"turn {i}: " + "word " * i)
                                     for i in range(9)],
    "non_alternating": [msg("user", "First"), msg("user", "Second")],
    "assistant_first": [msg("assistant", "I start."), msg("user", "OK")],
    "system_only": [SYSTEM],
}

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "add", "description": "Add two numbers.",
        "parameters": {"type": "object", "properties": {
            "a": {"type": "integer", "description": "first"}, "b": {"type": "number", "description": "second"}},
            "required": ["a", "b"]}}},
]
TOOL_EXTRAS = {"tools": TOOLS, "functions": json.dumps([t["function"] for t in TOOLS]), "datetime": "2024-09-05"}


def tool_conversation(arguments):
    call = {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    return [
        SYSTEM,
        msg("user", "Weather in Paris?"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temp\": 21}"},
        msg("assistant", "It is 21 degrees."),
    ]


# Conversations with tools (extra variables), generation prompt on.
WITH_TOOLS = {
    "tools_declared": ([SYSTEM, msg("user", "Weather in Paris?")], TOOL_EXTRAS),
    "tool_call_dict_args": (tool_conversation({"city": "Paris", "unit": "celsius"}), TOOL_EXTRAS),
    "tool_call_str_args": (tool_conversation("{\"city\": \"Paris\"}"), TOOL_EXTRAS),
    "builtin_tools": ([msg("user", "Search the news")],
                      {"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"], "date_string": "1 Jan 2025"}),
    "documents": ([msg("user", "Summarize")],
                  {"documents": [{"title": "Doc A", "text": "Alpha."}, {"title": "Doc B", "text": "Beta."}]}),
}


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: FIXED_NOW.strftime(fmt)
    return env


def outcome(render_fn):
    """{"expected": text}, {"raised": message} (raise_exception), or {"error": description} (any other failure)."""
    try:
        return {"expected": render_fn()}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": f"TemplateSyntaxError: {e} (line {e.lineno})"}
    except jinja2.exceptions.TemplateError as e:
        kind = type(e).__name__
        # raise_exception raises the TemplateError base class itself; keep its message for the test to check.
        return {"raised": str(e)} if kind == "TemplateError" else {"error": f"{kind}: {e}"}
    except Exception as e:  # TypeError and friends inside the template
        return {"error": f"{type(e).__name__}: {e}"}


def render(env, source, messages, add_generation_prompt, bos, eos, extra):
    variables = {"messages": messages, "tools": None, "documents": None,
                 "add_generation_prompt": add_generation_prompt, "bos_token": bos, "eos_token": eos}
    variables.update(extra)
    return outcome(lambda: env.from_string(source).render(**variables))


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def builtin_sources():
    """name -> Jinja source of the built-in templates, read from the raw string literals of builtin_templates.cpp."""
    with open(BUILTINS_SOURCE, encoding="utf-8") as f:
        text = f.read()
    literals = dict(re.findall(r'constexpr std::string_view (k\w+) = R"jinja\((.*?)\)jinja";', text, re.S))
    table = re.search(r"kBuiltins\[\] = \{(.*?)\};", text, re.S).group(1)
    names = re.findall(r'\{"([\w.-]+)", (k\w+)\}', table)
    if not names or any(const not in literals for _, const in names):
        sys.exit(f"cannot read the built-in templates of {BUILTINS_SOURCE}")
    return {name: literals[const] for name, const in names}


# built-in template -> (bos_token, eos_token) of the models it is for
BUILTIN_TOKENS = {
    "chatml": ("", "<|im_end|>"),
    "llama3": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistral": ("<s>", "</s>"),
    "phi3": ("<s>", "<|endoftext|>"),
    "gemma2": ("<bos>", "<eos>"),
    "deepseek-r1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
}


def template_cases(env, template_id, source, bos, eos, with_tools):
    for conv, messages in PLAIN.items():
        for agp in (True, False):
            yield dict(template=template_id, conversation=conv, add_generation_prompt=agp,
                       **render(env, source, messages, agp, bos, eos, {}))
    if not with_tools:
        return
    for conv, (messages, extra) in WITH_TOOLS.items():
        yield dict(template=template_id, conversation=conv, add_generation_prompt=True,
                   **render(env, source, messages, True, bos, eos, extra))


# Single features of the Jinja language: name -> (template, variables). The C++ test renders each with the same
# variables (plus the globals above) and compares.
USERS = [{"name": "ann", "role": "user", "age": 31}, {"name": "Bob", "role": "admin", "age": 25},
         {"name": "cy", "role": "user"}]
FEATURES = {
    # loops
    "for_loop_vars": ("{% for x in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.length }}"
                      "{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %};{% endfor %}", {"items": ["a", "b", "c"]}),
    "for_prev_next": ("{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}|{% endfor %}", {}),
    "for_cycle": ("{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    "for_else": ("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}", {}),
    "for_filter": ("{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}", {}),
    "for_unpack": ("{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}", {"d": {"b": 1, "a": [2, 3]}}),
    "for_dict_keys": ("{% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "y": 2}}),
    "for_string": ("{% for c in 'héllo' %}[{{ c }}]{% endfor %}", {}),
    "for_break_continue": ("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}"
                           "{% endif %}{{ x }}{% endfor %}", {}),
    "for_nested_loop": ("{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}"
                        "{{ loop.index }}|{% endfor %}", {}),
    "for_scope": ("{% set x = 5 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{% endfor %}[{{ x }}]", {}),
    # conditions
    "if_elif_else": ("{% for n in [1, 5, 10] %}{% if n < 3 %}small{% elif n < 7 %}mid{% else %}big{% endif %} "
                     "{% endfor %}", {}),
    "inline_if": ("{{ 'yes' if flag else 'no' }}|{{ 'only' if not flag }}|", {"flag": False}),
    "and_or_not": ("{{ a and b }} {{ a or b }} {{ not a }} {{ none or 'x' }} {{ 0 and 1 }}", {"a": 1, "b": "s"}),
    "set_in_if_leaks": ("{% if true %}{% set y = 'in' %}{% endif %}{{ y }}", {}),
    # set, namespace, macro
    "set_and_tuple": ("{% set a, b = 1, 'two' %}{{ a }}-{{ b }}{% set t = (1,) %}{{ t }}", {}),
    "set_block": ("{% set body %}  Hello {{ name }}  {% endset %}[{{ body | trim }}]", {"name": "Ann"}),
    "set_block_filter": ("{% set body | upper %}abc{% endset %}{{ body }}", {}),
    "namespace": ("{% set ns = namespace(count=0, seen=[]) %}{% for m in msgs %}{% if m.role == 'user' %}"
                  "{% set ns.count = ns.count + 1 %}{% set ns.seen = ns.seen + [m.content] %}{% endif %}{% endfor %}"
                  "{{ ns.count }} {{ ns.seen }}", {"msgs": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                                            {"role": "user", "content": "c"}]}),
    "macro": ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
              "{{ greet('Ann') }} {{ greet('Bob', '?') }} {{ greet(punct='.', name='Cy') }}", {}),
    "macro_recursive": ("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}"
                        "{{ fact(10) }}", {}),
    "macro_missing_arg": ("{% macro f(a, b) %}[{{ a }}|{{ b }}]{% endmacro %}{{ f(1) }}", {}),
    "filter_block": ("{% filter upper %}shout {{ x }}{% endfilter %}", {"x": "it"}),
    "raw_block": ("{% raw %}{{ not rendered }} {% if %}{% endraw %}", {}),
    "comments": ("a{# hidden #}b{#- trimmed -#}  c", {}),
    # whitespace control
    "trim_blocks": ("{% if true %}\n  indented\n{% endif %}\nend\n", {}),
    "lstrip_blocks": ("line\n    {% if true %}\n    kept\n    {% endif %}\ndone", {}),
    "dash_modifiers": ("a  {{- 'b' -}}  c \n {%- if true -%} \n d {%- endif %}", {}),
    "plus_modifiers": ("x\n    {%+ if true %}y{% endif +%}\nz", {}),
    "crlf_source": ("a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n", {}),
    # filters
    "filters_strings": ("{{ '  Hi There  ' | trim }}|{{ 'abc' | upper }}|{{ 'ÀÉ' | lower }}|{{ 'hello world' | title }}|"
                        "{{ 'hELLO' | capitalize }}|{{ 'a-b-a' | replace('a', 'x') }}|{{ 'abc' | length }}|"
                        "{{ 'xx' | center(6) }}|{{ 'x' * 3 }}", {}),
    "filters_lists": ("{{ items | join(', ') }}|{{ items | length }}|{{ items | first }}|{{ items | last }}|"
                      "{{ items | reverse | list }}|{{ items | sort }}|{{ [3, 1, 2] | max }}|{{ [3, 1, 2] | min }}|"
                      "{{ [1, 2, 3] | sum }}|{{ ['a', 'A', 'b'] | unique | list }}", {"items": ["b", "c", "a"]}),
    "filter_default": ("{{ missing | default('dflt') }}|{{ '' | default('empty', true) }}|{{ none | default('n') }}|"
                       "{{ missing | d('d') }}", {}),
    "filter_items_dictsort": ("{% for k, v in d | items %}{{ k }}:{{ v }},{% endfor %}|{{ d | dictsort }}",
                              {"d": {"b": 2, "a": 1}}),
    "filter_selectattr": ("{{ users | selectattr('role', 'equalto', 'user') | map(attribute='name') | join(',') }}|"
                          "{{ users | rejectattr('age', 'defined') | map(attribute='name') | list }}|"
                          "{{ users | selectattr('age') | list | length }}|{{ users | map(attribute='age', default=0) | list }}",
                          {"users": USERS}),
    "filter_select_tests": ("{{ [1, 2, 3, 4] | select('even') | list }}|{{ [1, 2, 3] | reject('odd') | list }}|"
                            "{{ ['a', 1, none] | select('string') | list }}|{{ [0, 1, ''] | select | list }}", {}),
    "filter_map_filter": ("{{ ['a', 'b'] | map('upper') | join }}|{{ [' x ', 'y '] | map('trim') | list }}", {}),
    "filter_tojson": ("{{ data | tojson }}|{{ data | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}|"
                      "{{ data | tojson(sort_keys=true) }}|{{ [1.5, 2.0, none, true] | tojson }}",
                      {"data": {"name": "x", "list": [1, {"k": "v"}], "uni": "日本"}}),
    "filter_tojson_separators": ("{{ {'a': [1, 2]} | tojson(separators=(',', ':')) }}|"
                                 "{{ {'a': 'ü'} | tojson(ensure_ascii=true) }}", {}),
    "filter_numbers": ("{{ '42' | int + 1 }}|{{ '3.5' | float }}|{{ -3 | abs }}|{{ 2.567 | round(2) }}|"
                       "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}|{{ 'x' | int }}", {}),
    "filter_indent": ("{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(4, first=true) }}", {}),
    "filter_string_list": ("{{ 42 | string }}|{{ 'ab' | list }}|{{ [1, 'a', none, true] }}|{{ {'k': 'v'} }}|{{ (1, 'x') }}", {}),
    "filter_wordcount_count": ("{{ 'a b  c' | wordcount }} {{ [1, 2] | count }}", {}),
    # tests
    "tests": ("{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} "
              "{{ 1 is integer }} {{ 1.5 is float }} {{ {} is mapping }} {{ [] is iterable }} {{ 3 is odd }} "
              "{{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'abc' is lower }} {{ true is boolean }} {{ 2 is eq 2 }} "
              "{{ 'a' is in 'cat' }} {{ 1 is not string }} {{ range is callable }}", {"x": 1}),
    # string methods
    "str_methods": ("{{ s.startswith('He') }} {{ s.endswith(('x', 'd!')) }} [{{ '  pad  '.strip() }}] "
                    "[{{ 'xxhixx'.strip('x') }}] [{{ '  l'.lstrip() }}] [{{ 'r  '.rstrip() }}] {{ s.split(' ') }} "
                    "{{ 'a  b c'.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} "
                    "{{ s.upper() }} {{ s.lower() }} {{ s.title() }} {{ s.replace('l', 'L') }} {{ s.find('o') }} "
                    "{{ s.count('l') }} {{ '-'.join(['a', 'b']) }} {{ 'a\nb\r\nc'.splitlines() }}",
                    {"s": "Hello World!"}),
    "str_unicode": ("{{ s | length }} {{ s[1] }} {{ s[-1] }} {{ s[1:3] }} {{ s | upper }} {{ s[::-1] }}", {"s": "añ日😀"}),
    # slicing, subscripts, in, comparison
    "slicing": ("{{ l[1:] }} {{ l[:-1] }} {{ l[::2] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[10:] }} {{ 'hello'[1:4] }} "
                "{{ l[0] }} {{ l[-1] }} {{ (l | list)[1:2] }}", {"l": [1, 2, 3, 4, 5]}),
    "subscripts": ("{{ d.a }} {{ d['a'] }} {{ d.l[1].k }} {{ d.get('zz', 'none') }} {{ d.get('a') }} "
                   "{{ d.missing is defined }} {{ d | length }} {{ d.keys() | list }} {{ d.values() | list }}",
                   {"d": {"a": 1, "l": [0, {"k": "deep"}]}}),
    "in_operator": ("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} "
                    "{{ 3 not in [1, 2] }}", {}),
    "comparisons": ("{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 1 != 2 }} "
                    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ none == none }} {{ 'a' == 'a' }} {{ true == 1 }}", {}),
    "arithmetic_concat": ("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 'a' ~ 1 ~ none }} {{ 'ab' + 'cd' }} {{ [1] + [2] }} "
                          "{{ 10 - 2 - 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e20 }} "
                          "{{ 1 / 3 }}", {}),
    "literals": ("{{ 'single' }} {{ \"double\" }} {{ 'esc\\t\\'q\\'\\u00e9' }} {{ 0x1F }} {{ 1_000 }} {{ 2.5e-3 }} "
                 "{{ True }} {{ none }} {{ [1, [2, 3]] }} {{ {'a': {'b': none}} }}", {}),
    "string_repr_in_list": ("{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\\t', 'uni é'] }}", {}),
    # globals
    "range": ("{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}", {}),
    "dict_global": ("{{ dict(a=1, b='x') }} {{ dict({'z': 0}, y=1) | length }}", {}),
    "strftime_now": ("{{ strftime_now('%d %B %Y') }} {{ strftime_now('%Y-%m-%d %H:%M') }}", {}),
    "raise_exception": ("{% if x > 1 %}{{ raise_exception('x is too big: ' ~ x) }}{% endif %}ok", {"x": 5}),
    # undefined
    "undefined_prints_empty": ("[{{ missing }}][{{ d.nope }}][{{ missing is defined }}][{{ d.nope | default('x') }}]",
                               {"d": {}}),
    "undefined_attr_error": ("{{ missing.attr }}", {}),
    "undefined_arith_error": ("{{ missing + 1 }}", {}),
    "type_error_concat": ("{{ 'a' + 1 }}", {}),
    "not_iterable_error": ("{% for x in 5 %}{% endfor %}", {}),
    "sandbox_list_append": ("{{ l.append(1) }}", {"l": []}),
    "unknown_filter_error": ("{{ x | nosuchfilter }}", {"x": 1}),
}


def gguf_chat_template(path):
    """(chat template, bos token text, eos token text) from a GGUF file's metadata, or None without a template."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values[0]

    def string():
        nonlocal pos
        n = take("Q")
        pos += n
        return data[pos - n:pos].decode("utf-8", "surrogateescape")

    scalars = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            elem, n = take("I"), take("Q")
            return [value(elem) for _ in range(n)]
        return take(scalars[kind])

    if data[:4] != b"GGUF":
        return None
    pos = 8
    take("Q")  # tensors
    meta = {}
    for _ in range(take("Q")):
        key = string()
        meta[key] = value(take("I"))
    if "tokenizer.chat_template" not in meta:
        return None
    tokens = meta.get("tokenizer.ggml.tokens", [])
    token = lambda key: tokens[meta[key]] if key in meta and meta[key] < len(tokens) else ""
    return meta["tokenizer.chat_template"], token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id")


def feature_cases(env):
    for name, (source, variables) in FEATURES.items():
        yield dict(name=name, template=source, variables=variables,
                   **outcome(lambda: env.from_string(source).render(**variables)))


def source_info(source, bos, eos):
    return {"bytes": len(source.encode("utf-8")), "fnv1a64": fnv1a64(source), "bos": bos, "eos": eos}


def build():
    env = make_env()
    shared, builtins, renders = {}, {}, []
    for name in sorted(TEMPLATE_TOKENS):
        with open(os.path.join(TEMPLATES, name), encoding="utf-8", newline="") as f:
            source = f.read()
        bos, eos = TEMPLATE_TOKENS[name]
        shared[name] = source_info(source, bos, eos)
        renders += template_cases(env, name, source, bos, eos, with_tools=True)
    missing = sorted(set(os.listdir(TEMPLATES)) - set(TEMPLATE_TOKENS) - {"README.md"})
    if missing:
        sys.exit(f"templates without tokens in TEMPLATE_TOKENS: {missing}")
    embedded = {}
    for folder in ("models", "vocab"):
        for file in sorted(os.listdir(os.path.join(SHARED, folder))):
            found = file.endswith(".gguf") and gguf_chat_template(os.path.join(SHARED, folder, file))
            if found:
                source, bos, eos = found
                embedded[f"{folder}/{file}"] = source_info(source, bos, eos)
                renders += template_cases(env, f"gguf:{folder}/{file}", source, bos, eos, with_tools=False)
    for name, source in builtin_sources().items():
        bos, eos = BUILTIN_TOKENS[name]
        builtins[name] = source_info(source, bos, eos)
        renders += template_cases(env, "builtin:" + name, source, bos, eos, with_tools=False)
    return {
        "generator": "scripts/gen_chat_expectations.py",
        "jinja2": jinja2.__version__,
        "now": FIXED_NOW.strftime("%Y-%m-%d %H:%M:%S"),
        "shared_templates": shared,
        "gguf_templates": embedded,  # tokenizer.chat_template of GGUF files under ../shared
        "builtin_templates": builtins,
        # name -> messages and extra template variables (tools=None and documents=None unless given there)
        "conversations": {**{name: {"messages": m, "extra": {}} for name, m in PLAIN.items()},
                          **{name: {"messages": m, "extra": e} for name, (m, e) in WITH_TOOLS.items()}},
        "renders": renders,
        "features": list(feature_cases(env)),
    }


def main():
    data = build()
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if "--check" in sys.argv:
        with open(OUTPUT, encoding="utf-8") as f:
            same = f.read() == text
        print(f"{OUTPUT} is " + ("up to date" if same else "OUT OF DATE: rerun scripts/gen_chat_expectations.py"))
        sys.exit(0 if same else 1)
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w", encoding="utf-8") as f:
        f.write(text)
    counts = {}
    for c in data["renders"] + data["features"]:
        kind = "text" if "expected" in c else "raised" if "raised" in c else "error"
        counts[kind] = counts.get(kind, 0) + 1
    print(f"wrote {len(data['renders'])} renders and {len(data['features'])} feature cases to {OUTPUT}: {counts}")


if __name__ == "__main__":
    main()
