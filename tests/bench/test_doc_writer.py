"""bench/doc.py rewrites only its own part of docs/benchmarks.md: run its
writer on a copy, with a kept run standing in for a new one (its commit
changed), and check that the hand-written WebDriver and Grid sections, and
everything else outside doc.py's markers, survive byte for byte."""
import json
import os
import shutil
import sys
import tempfile
import unittest

ROOT = os.environ.get("CORRAL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import doc  # noqa: E402

FAKE_COMMIT = "f4ce0ff"


def outside_markers(text):
    return text[:text.index(doc.BEGIN)], text[text.index(doc.END) + len(doc.END):]


class DocWriter(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="corral-doc-test-")
        self.addCleanup(shutil.rmtree, self.tmp)
        self.original_path = os.path.join(ROOT, "docs", "benchmarks.md")
        with open(self.original_path, newline="") as f:
            self.original = f.read()
        self.copy = os.path.join(self.tmp, "benchmarks.md")
        shutil.copyfile(self.original_path, self.copy)
        self.results_dir = os.path.join(ROOT, "bench", "results")
        # The newest kept run of bench/run (the Grid bench keeps runs of its own there too).
        self.result = json.loads(json.dumps(doc.report.load_runs(self.results_dir)[-1][1]))
        self.result["machine"]["commit"] = FAKE_COMMIT

    def written(self):
        with open(self.copy, newline="") as f:
            return f.read()

    def test_the_webdriver_and_grid_sections_survive_a_rerun(self):
        self.assertIn("## WebDriver through corral", outside_markers(self.original)[1])
        self.assertIn("## Selenium Grid", outside_markers(self.original)[1])
        doc.write_doc(self.result, self.copy, self.results_dir)
        text = self.written()
        self.assertEqual(outside_markers(text), outside_markers(self.original))
        self.assertIn(f"`{FAKE_COMMIT}`", text[:text.index(doc.END)], "the generated part was written anew")
        self.assertEqual(text.count("## WebDriver through corral"), 1)
        self.assertEqual(text.count("## Every run kept in bench/results/"), 1)
        doc.write_doc(self.result, self.copy, self.results_dir)
        self.assertEqual(self.written(), text, "a second run changes nothing more")

    def test_a_file_without_the_markers_is_refused_and_kept(self):
        with open(self.copy, "w") as f:
            f.write("# Benchmarks\n\nhand-written\n")
        with self.assertRaises(ValueError):
            doc.write_doc(self.result, self.copy, self.results_dir)
        self.assertEqual(self.written(), "# Benchmarks\n\nhand-written\n")
        self.assertEqual(os.listdir(self.tmp), ["benchmarks.md"])


if __name__ == "__main__":
    unittest.main()
