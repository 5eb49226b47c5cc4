"""`mini`: a small GPT-2-architecture model the project trains itself, with committed weights.

GPT-2's weights cannot be downloaded everywhere the site is built; a random model would make every
figure noise. `mini` is trained on a generated corpus (`corpus.py`) with its own byte-level BPE
(`tokenizer.py`) so that it really does the things the site demonstrates: day, month and number
successors ("If today is Monday, tomorrow is" → " Tuesday") and copying an earlier rare token.

    python -m figgen.mini train      # retrain into figgen/mini/weights (a few minutes on 2 cores)
    python -m figgen.mini report     # accuracy on the prompt sets in prompts.py
"""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
