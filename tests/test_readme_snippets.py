"""The README's Python examples run as written and say what the README says they say."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run_in_order():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    root = namespace["r"]
    assert abs(root.root - 2.0945514815423265) < 1e-12
    assert abs(root.orders[-1] - 2.0) < 0.05
    clf = namespace["clf"]
    # the README quotes the iteration count: keep it true
    text = README.read_text(encoding="utf-8")
    assert f"# ({clf.n_iter_}, '{clf.stop_reason_}')" in text
    assert f"{clf.n_iter_} Newton iterations" in text and clf.n_iter_ <= 15
    x = namespace["x"]
    hessian = namespace["nb"].hessian(namespace["f"])(x)
    # f = sum(exp(x) x): d2f/dx2 = exp(x) (x + 2) on the diagonal
    np.testing.assert_allclose(hessian, np.diag(np.exp(x) * (x + 2)), atol=1e-12)
