"""scripts/check_layers.py on small synthetic trees, and on the repository itself.

No httpd or redis: each test writes a tree (docs/ARCHITECTURE.md with a layer
table plus a few tiny .c/.h files) into tmp_path and runs the script on it.
"""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_layers.py"

TWO_LAYERS = """\
| `lib` | |
| `modules/mod_chat` | `lib` |
"""


def make_tree(root, table, files):
    """table: the rows between the markers; files: {relative path: text}."""
    (root / "docs").mkdir()
    (root / "docs" / "ARCHITECTURE.md").write_text(
        "# Architecture\n\n<!-- layers -->\n| folder | may include |\n|---|---|\n"
        + table + "<!-- /layers -->\n")
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def run(root):
    r = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


CLEAN = {
    "lib/util.h": "#pragma once\n#include <stdio.h>\nint util(void);\n",
    "lib/util.c": '#include "util.h"\n#include "config.h"\nint util(void) { return 1; }\n',
    "modules/mod_chat/chat_room.h": '#include "util.h"\nint room(void);\n',
    "modules/mod_chat/chat_room.c": '#include "chat_room.h"\n#include "util.h"\n'
                                    "int room(void) { return util(); }\n",
    "modules/mod_chat/mod_chat.c": '#include "chat_room.h"\n# include "../../lib/util.h"\n',
    "modules/mod_chat/.libs/ignored.c": '#include "chat_nowhere.h"\n',
}


def test_clean_tree_passes(tmp_path):
    make_tree(tmp_path, TWO_LAYERS, CLEAN)
    code, out = run(tmp_path)
    assert code == 0, out
    assert out.strip() == "include layers: 5 files, 6 includes, 0 cycles, 0 layer violations"


def test_cycle_between_h_and_c_in_one_folder(tmp_path):
    files = dict(CLEAN)
    files["modules/mod_chat/chat_a.h"] = '#include "chat_b.h"\n'
    files["modules/mod_chat/chat_a.c"] = '#include "chat_a.h"\n'
    files["modules/mod_chat/chat_b.h"] = "int b(void);\n"
    files["modules/mod_chat/chat_b.c"] = '#include "chat_b.h"\n\n#include "chat_a.h"\n'
    make_tree(tmp_path, TWO_LAYERS, files)
    code, out = run(tmp_path)
    assert code == 1, out
    assert ("cycle: modules/mod_chat/chat_a -> modules/mod_chat/chat_b -> modules/mod_chat/chat_a"
            in out), out
    assert "(modules/mod_chat/chat_a.h:1 includes chat_b.h)" in out
    assert "(modules/mod_chat/chat_b.c:3 includes chat_a.h)" in out
    assert out.splitlines()[-1] == (
        "include layers: 9 files, 10 includes, 1 cycles, 0 layer violations")


def test_upward_include_is_a_layer_violation(tmp_path):
    files = dict(CLEAN)
    files["lib/util.c"] = '#include "util.h"\n#include "chat_room.h"\n'
    make_tree(tmp_path, TWO_LAYERS, files)
    code, out = run(tmp_path)
    assert code == 1, out
    assert ("layer: lib/util.c:2 includes chat_room.h (modules/mod_chat), "
            "which lib may not include") in out
    # lib -> modules/mod_chat -> lib by node: chat_room.h includes util.h
    assert "cycle: lib/util -> modules/mod_chat/chat_room -> lib/util" in out
    assert out.splitlines()[-1].endswith("1 cycles, 1 layer violations")


def test_may_include_is_not_transitive(tmp_path):
    files = dict(CLEAN)
    files["modules/mod_chat/ws/chat_ws.c"] = '#include "chat_room.h"\n#include "util.h"\n'
    table = TWO_LAYERS + "| `modules/mod_chat/ws` | `modules/mod_chat` |\n"
    make_tree(tmp_path, table, files)
    code, out = run(tmp_path)
    assert code == 1, out
    assert ("layer: modules/mod_chat/ws/chat_ws.c:2 includes util.h (lib), "
            "which modules/mod_chat/ws may not include") in out
    assert "chat_ws.c:1" not in out


def test_folder_missing_from_table(tmp_path):
    files = dict(CLEAN)
    files["modules/mod_chat_admin/admin.h"] = "int admin(void);\n"
    make_tree(tmp_path, TWO_LAYERS, files)
    code, out = run(tmp_path)
    assert code == 2, out
    assert "`modules/mod_chat_admin`" in out and "no row" in out


def test_table_problems_exit_2(tmp_path):
    make_tree(tmp_path, TWO_LAYERS + "| `lib/nowhere` | `lib` |\n", CLEAN)
    code, out = run(tmp_path)
    assert code == 2 and "`lib/nowhere` does not exist" in out, out

    cyclic = "| `lib` | `modules/mod_chat` |\n| `modules/mod_chat` | `lib` |\n"
    (tmp_path / "docs" / "ARCHITECTURE.md").write_text(
        "<!-- layers -->\n| folder | may include |\n|---|---|\n" + cyclic + "<!-- /layers -->\n")
    code, out = run(tmp_path)
    assert code == 2 and "cyclic: lib -> modules/mod_chat -> lib" in out, out

    (tmp_path / "docs" / "ARCHITECTURE.md").write_text("# no table here\n")
    code, out = run(tmp_path)
    assert code == 2 and "<!-- layers -->" in out, out


def test_unresolved_chat_include(tmp_path):
    files = dict(CLEAN)
    files["modules/mod_chat/chat_room.c"] += '#include "chat_gone.h"\n'
    make_tree(tmp_path, TWO_LAYERS, files)
    code, out = run(tmp_path)
    assert code == 1, out
    assert "unresolved include: modules/mod_chat/chat_room.c:4 includes chat_gone.h" in out


def test_same_basename_in_two_folders_is_ambiguous(tmp_path):
    files = dict(CLEAN)
    files["modules/mod_chat/util.h"] = "int other_util(void);\n"
    make_tree(tmp_path, TWO_LAYERS, files)
    code, out = run(tmp_path)
    assert code == 1, out
    assert "ambiguous header name: util.h is lib/util.h and modules/mod_chat/util.h" in out


def test_repository_layers():
    code, out = run(ROOT)
    print(out)
    assert code == 0, out
    assert "0 cycles, 0 layer violations" in out
