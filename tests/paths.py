"""Where the tests find the repository and the shared test inputs.

`../shared` sits beside the checkout (in CI too); its data is read, never copied in.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "content"
SHARED_DATA = ROOT.parent / "shared" / "data"
REGULATIONS = SHARED_DATA / "regulations"
CRYPTO_VECTORS = SHARED_DATA / "wechat_crypto_vectors.json"
