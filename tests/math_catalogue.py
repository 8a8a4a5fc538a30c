r"""Known-equal / known-different answer pairs for the math verifier (and its benchmark).

Each row: candidate, reference, expected status ("accept" or "reject"), and the
problem's extra payload (a declared tolerance) when there is one.
"""

from __future__ import annotations

from typing import Any

# candidate ||| reference ||| expected   (one pair a line; '#' starts a section comment)
_TABLE = r"""
# integers, fractions, \frac / \dfrac / \tfrac, boxed
42 ||| 42 ||| accept
\boxed{42} ||| 42 ||| accept
The answer is \boxed{42}. ||| 42 ||| accept
41 ||| 42 ||| reject
\frac{1}{2} ||| 1/2 ||| accept
\dfrac{3}{4} ||| \frac{3}{4} ||| accept
\tfrac{3}{4} ||| 0.75 ||| accept
\frac34 ||| \frac{3}{4} ||| accept
\frac{6}{8} ||| \frac{3}{4} ||| accept
\frac{2}{3} ||| \frac{3}{4} ||| reject
-\frac{1}{2} ||| \frac{-1}{2} ||| accept
\frac{1}{2} ||| -\frac{1}{2} ||| reject
\boxed{\frac{7}{3}} ||| \frac{14}{6} ||| accept
\frac{7}{3} ||| \frac{3}{7} ||| reject
# decimals and exactness
0.5 ||| \frac{1}{2} ||| accept
0.333333 ||| \frac{1}{3} ||| reject
0.3333333333 ||| \frac{1}{3} ||| reject
.25 ||| \frac14 ||| accept
3.0 ||| 3 ||| accept
3.01 ||| 3 ||| reject
0.1 ||| \frac{1}{10} ||| accept
2.50 ||| \frac{5}{2} ||| accept
1.414 ||| \sqrt{2} ||| reject
3.14 ||| \pi ||| reject
0.\overline{3} ||| \frac{1}{3} ||| accept
0.1\overline{6} ||| \frac{1}{6} ||| accept
1.\overline{27} ||| \frac{14}{11} ||| accept
0.\overline{3} ||| 0.3 ||| reject
# scientific notation
1.5e3 ||| 1500 ||| accept
1.5E-3 ||| 0.0015 ||| accept
2 \times 10^{3} ||| 2000 ||| accept
3.2 \times 10^{-2} ||| 0.032 ||| accept
1e6 ||| 10^6 ||| accept
1e5 ||| 10^6 ||| reject
# thousands separators
1,000,000 ||| 1000000 ||| accept
1{,}000 ||| 1000 ||| unknown
12,345 ||| 12345 ||| unknown
12,345 ||| 12346 ||| reject
# mixed numbers
2\frac{1}{2} ||| \frac{5}{2} ||| accept
2 1/2 ||| 2.5 ||| accept
-1\frac{1}{3} ||| -\frac{4}{3} ||| accept
3\frac{1}{2} ||| \frac{5}{2} ||| reject
# roots and powers
\sqrt{8} ||| 2\sqrt{2} ||| accept
\sqrt{12} ||| 2\sqrt{3} ||| accept
\sqrt{12} ||| 3\sqrt{2} ||| reject
\frac{\sqrt{2}}{2} ||| \frac{1}{\sqrt{2}} ||| accept
\frac{\sqrt{3}}{3} ||| \frac{1}{\sqrt3} ||| accept
\sqrt[3]{8} ||| 2 ||| accept
\sqrt[3]{-27} ||| -3 ||| accept
\sqrt[4]{16} ||| 2 ||| accept
\sqrt[3]{16} ||| 2\sqrt[3]{2} ||| accept
\sqrt[3]{9} ||| 3 ||| reject
2^{10} ||| 1024 ||| accept
2^10 ||| 1024 ||| accept
2**10 ||| 1024 ||| accept
2^{-2} ||| \frac{1}{4} ||| accept
4^{1/2} ||| 2 ||| accept
8^{2/3} ||| 4 ||| accept
2^{3^2} ||| 512 ||| accept
(2^3)^2 ||| 512 ||| reject
\sqrt{2}+\sqrt{3} ||| \sqrt{5+2\sqrt{6}} ||| accept
\sqrt{2}+\sqrt{3} ||| \sqrt{5+\sqrt{6}} ||| reject
\frac{1}{\sqrt{5}-2} ||| \sqrt{5}+2 ||| accept
\frac{1}{\sqrt{5}-2} ||| \sqrt{5}-2 ||| reject
²√ ||| 1 ||| reject
x² ||| x^2 ||| accept
# pi, e, i
\pi ||| \pi ||| accept
2\pi ||| \pi + \pi ||| accept
\frac{\pi}{2} ||| \pi/2 ||| accept
\frac{\pi}{3} ||| \frac{\pi}{2} ||| reject
π/4 ||| \frac{\pi}{4} ||| accept
e ||| \exp(1) ||| accept
e^2 ||| e \cdot e ||| accept
e^{i\pi} ||| -1 ||| accept
i^2 ||| -1 ||| accept
3+4i ||| 4i+3 ||| accept
3+4i ||| 3-4i ||| reject
\frac{1}{i} ||| -i ||| accept
\sin(\pi/6) ||| \frac{1}{2} ||| accept
\cos(\pi/3) ||| \frac{\sqrt{3}}{2} ||| reject
\ln(e^3) ||| 3 ||| accept
\log_2 8 ||| 3 ||| accept
\log_{10} 1000 ||| 3 ||| accept
\log_2 8 ||| 4 ||| reject
5! ||| 120 ||| accept
\binom{5}{2} ||| 10 ||| accept
\binom{5}{2} ||| 20 ||| reject
|{-3}| ||| 3 ||| accept
\left| -3 \right| ||| 3 ||| accept
# percent
50% ||| \frac{1}{2} ||| accept
0.5 ||| 50\% ||| accept
50 ||| 50\% ||| accept
25\% ||| 50\% ||| reject
40 ||| 50\% ||| reject
# degrees
30^{\circ} ||| 30^\circ ||| accept
45^\circ ||| 30 ||| reject
# units in \text
5 \text{ cm} ||| 5\text{ cm} ||| accept
5\text{ m} ||| 5\text{ cm} ||| reject
6\text{ cm} ||| 5\text{ cm} ||| reject
# symbolic expressions
(x+1)^2 ||| x^2+2x+1 ||| accept
(x+1)^2 ||| x^2+x+1 ||| reject
x^2-1 ||| (x-1)(x+1) ||| accept
2x+2 ||| 2(x+1) ||| accept
\frac{x^2-1}{x-1} ||| x+1 ||| unknown
\sin^2 x + \cos^2 x ||| 1 ||| unknown
a^2b ||| b a^2 ||| accept
ab ||| a+b ||| reject
\frac{1}{x} + \frac{1}{y} ||| \frac{x+y}{xy} ||| accept
e^{x}e^{y} ||| e^{x+y} ||| accept
\pi r^2 ||| r^2\pi ||| accept
x_1 + x_2 ||| x_2 + x_1 ||| accept
x_1 ||| x_2 ||| reject
# words and choices
\text{Monday} ||| \text{Monday} ||| accept
\text{Monday} ||| \text{Tuesday} ||| reject
\text{(C)} ||| C ||| accept
(B) ||| C ||| reject
# x = 3 forms
x = 3 ||| 3 ||| accept
3 ||| x=3 ||| accept
x = 4 ||| 3 ||| reject
y = \frac{1}{2} ||| 0.5 ||| accept
# equations compare as equations
y = 2x+1 ||| 2x - y + 1 = 0 ||| accept
2y = 4x + 2 ||| y = 2x + 1 ||| accept
3x-y+13=0 ||| 3x+4y+14=0 ||| reject
x^2 + y^2 = 1 ||| y^2 + x^2 - 1 = 0 ||| accept
x^2 + y^2 = 4 ||| x^2 + y^2 = 1 ||| reject
y = x^2 ||| y = x ||| reject
# inequalities
x > 3 ||| 3 < x ||| accept
2x < 6 ||| x < 3 ||| accept
-2x > -6 ||| x < 3 ||| accept
x \le 3 ||| x < 3 ||| reject
x < 3 ||| x > 3 ||| reject
x \geq 2 ||| [2, \infty) ||| accept
1 < x \le 3 ||| (1, 3] ||| accept
x > 3 ||| (3, \infty) ||| accept
x > 3 ||| [3, \infty) ||| reject
# sets
\{1, 2, 3\} ||| \{3, 2, 1\} ||| accept
\{1, 2\} ||| \{1, 2, 3\} ||| reject
\{1, 2, 4\} ||| \{1, 2, 3\} ||| reject
\{1, 1, 2\} ||| \{1, 2\} ||| accept
\{\frac{1}{2}, \sqrt{4}\} ||| \{2, 0.5\} ||| accept
\emptyset ||| \varnothing ||| accept
\{\} ||| \emptyset ||| accept
\emptyset ||| \{0\} ||| reject
{1, 2} ||| \{2, 1\} ||| accept
\{3\} ||| 3 ||| accept
# several answers separated by commas
2, 3 ||| 3, 2 ||| unknown
2, 3 ||| \{2, 3\} ||| accept
x = 2, x = 3 ||| 2, 3 ||| accept
x = 2 \text{ or } x = 3 ||| 3, 2 ||| accept
x = 2 or x = 3 ||| \{2, 3\} ||| accept
2, 4 ||| 2, 3 ||| reject
2 ||| 2, 3 ||| reject
\frac{1 \pm \sqrt{5}}{2} ||| \frac{1+\sqrt5}{2}, \frac{1-\sqrt5}{2} ||| accept
1 \pm \sqrt{2} ||| 1+\sqrt{2}, 1-\sqrt{2} ||| accept
\pm 2 ||| 2, -2 ||| accept
\pm 2 ||| 2 ||| reject
# tuples and points
(1, 2) ||| (1, 2) ||| accept
(1, 2) ||| (2, 1) ||| reject
(\frac{1}{2}, -3) ||| (0.5, -3) ||| accept
(1, 2, 3) ||| (1, 2) ||| reject
(1, 2, 3) ||| (1, 2, 3) ||| accept
(\sqrt{2}, \pi) ||| (\sqrt{2}, \pi) ||| accept
(\sqrt{2}, \pi) ||| (\pi, \sqrt{2}) ||| reject
# intervals with open and closed ends
(1, 2] ||| (1, 2] ||| accept
[1, 2) ||| [1, 2) ||| accept
[1, 2] ||| (1, 2] ||| reject
(1, 2) ||| [1, 2] ||| reject
[0, \infty) ||| [0, \infty) ||| accept
[0, \infty) ||| (0, \infty) ||| reject
(-\infty, 3) ||| (-\infty, 3) ||| accept
(-\infty, 2) \cup (3, \infty) ||| (3, \infty) \cup (-\infty, 2) ||| accept
(1, 2] \cup (2, 3) ||| (1, 3) ||| accept
(1, 2) \cup (2, 3) ||| (1, 3) ||| reject
[-\frac{1}{2}, \sqrt{2}] ||| [-0.5, \sqrt{2}] ||| accept
[-\frac{1}{2}, \sqrt{2}] ||| [-0.5, \sqrt{3}] ||| reject
\left[ 1, 2 \right) ||| [1, 2) ||| accept
# matrices entrywise
\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} ||| \begin{bmatrix}1 & 2 \\ 3 & 4\end{bmatrix} ||| accept
\begin{pmatrix}1 & 2 \\ 3 & 5\end{pmatrix} ||| \begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} ||| reject
\begin{pmatrix}\frac12\\\sqrt{4}\end{pmatrix} ||| \begin{pmatrix}0.5\\2\end{pmatrix} ||| accept
\begin{pmatrix}1 & 2\end{pmatrix} ||| \begin{pmatrix}1 \\ 2\end{pmatrix} ||| reject
\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} ||| \begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} ||| accept
# form mismatches
(1, 2) ||| \{1, 2\} ||| reject
\begin{pmatrix}1 \\ 2\end{pmatrix} ||| (1, 2) ||| reject
x = 3 ||| x < 3 ||| reject
# unicode look-alikes of operators
3×4 ||| 12 ||| accept
12÷4 ||| 3 ||| accept
5−2 ||| 3 ||| accept
x ≤ 3 ||| x \le 3 ||| accept
# red team (round 2): domains, branches, degrees, spacing, boxes
x/x ||| 1 ||| unknown
\frac{2x}{x} ||| 2 ||| unknown
\frac{1}{x}+\frac{1}{y} ||| \frac{x+y}{xy} ||| accept
\frac{x}{x^2} ||| \frac{1}{x} ||| accept
\frac{x^2-1}{x-1} = 2 ||| x+1 = 2 ||| reject
x^2 = 0 ||| x = 0 ||| accept
x^2 = 4 ||| x = 2 ||| reject
x^3 + x = 0 ||| x = 0 ||| unknown
\sqrt{x^2} ||| x ||| reject
|x| ||| x ||| reject
\log(xy) ||| \log x + \log y ||| unknown
(x^a)^b ||| x^{ab} ||| unknown
(-8)^{1/3} ||| -2 ||| reject
\sqrt[3]{-8} ||| -2 ||| accept
\sqrt{-1} ||| i ||| accept
e ||| 2.718281828 ||| reject
\boxed{1} \text{ or } \boxed{2} ||| 2 ||| reject
\boxed{\boxed{2}} ||| 2 ||| accept
2\,000 ||| 2000 ||| accept
2\,000 ||| 0 ||| reject
x = 2 1/2 ||| 1 ||| unknown
\phantom{0}7 ||| 7 ||| accept
\sin 30^\circ ||| \frac{1}{2} ||| accept
\sin 30^\circ ||| \sin 30 ||| reject
\sin^{-1} x ||| \frac{1}{\sin x} ||| reject
\cos^{-1}(0) ||| \frac{\pi}{2} ||| accept
\sin x^2 ||| \sin^2 x ||| reject
\sin 2x ||| \sin(2x) ||| accept
3.14\ldots ||| 3.14 ||| reject
x = 4, y = 3 ||| x = 3, y = 4 ||| reject
y = 4, x = 3 ||| x = 3, y = 4 ||| accept
# numerics never decide (issue 11): hidden zeros are proven zero, differences proven by intervals
2 + 10^{200}(\sqrt{3+2\sqrt{2}}-1-\sqrt{2}) ||| 2 ||| accept
\sqrt{3+2\sqrt{2}}-\sqrt{2} ||| 1 ||| accept
2 + 10^{-300} ||| 2 ||| reject
\{1, 1 + 10^{-300}, 2\} ||| \{1, 2\} ||| reject
\{1, 1 + (\sqrt{3+2\sqrt{2}}-1-\sqrt{2}), 2\} ||| \{2, 1\} ||| accept
\lfloor \sqrt{3+2\sqrt{2}} - \sqrt{2} \rfloor ||| 1 ||| accept
(\sqrt{3+2\sqrt{2}}-\sqrt{2}) x > 1 ||| x > 1 ||| unknown
(\sqrt{3+2\sqrt{2}}-\sqrt{2}-1) x > 1 ||| x > 1 ||| reject
x + (\sqrt{3+2\sqrt{2}}-1-\sqrt{2}) ||| x ||| accept
# undefined forms are refused like 0^0, also when the zero is hidden
\frac{\sqrt{3+2\sqrt{2}}-1-\sqrt{2}}{\sqrt{3+2\sqrt{2}}-1-\sqrt{2}} ||| 1 ||| reject
(\sqrt{3+2\sqrt{2}}-1-\sqrt{2})^0 ||| 1 ||| reject
\infty^0 ||| 1 ||| reject
\infty^{\sqrt{3+2\sqrt{2}}-1-\sqrt{2}} ||| 1 ||| reject
0^{\sqrt{3+2\sqrt{2}}-1-\sqrt{2}} ||| 1 ||| reject
0^{\sqrt{3+2\sqrt{2}}-\sqrt{2}} ||| 0 ||| accept
\ln(\sqrt{3+2\sqrt{2}}-1-\sqrt{2}) - \ln(\sqrt{3+2\sqrt{2}}-1-\sqrt{2}) + 2 ||| 2 ||| reject
\frac{1}{\sin(10^{100}\pi)} ||| 1 ||| reject
# domains of definition: a rewrite that changes where the text is defined needs assumptions
e^{\ln x} ||| x ||| unknown
\sqrt{x}^2 ||| x ||| unknown
\ln(xy) ||| \ln x + \ln y ||| unknown
\ln(x^2) ||| 2\ln x ||| unknown
\sqrt{x}\sqrt{x} ||| \sqrt{x}^2 ||| accept
\sqrt{x}^{199} ||| x ||| reject
\sqrt{x^2+2x+1} ||| x+1 ||| reject
# bounded time: short inputs that ran to the deadline are decided or refused at once
2^{2^{-1000}} ||| 1 ||| unknown
9^{9^{-9}} ||| 1 ||| unknown
e^{e^{e^{e}}} ||| 1 ||| unknown
\sin(10^{10000}) ||| 0 ||| unknown
e^{i 10^{100}} ||| 1 ||| unknown
2^{1/199} ||| 2 ||| reject
\sin(10^{200}) ||| 0 ||| reject
\cos(10^{199}\pi) ||| 1 ||| accept
\sin^2(10^{100}) + \cos^2(10^{100}) ||| 1 ||| accept
# a JSON answer that repeats its key is a hedge (issue 11): REJECT, whichever value comes last
{"answer": "1", "answer": "24"} ||| 24 ||| reject
{"answer": "24", "answer": "1"} ||| 24 ||| reject
"""

#: Pairs with a tolerance the problem declares: (candidate, reference, expected, extra payload).
_TOLERANT: list[tuple[str, str, str, dict[str, Any]]] = [
    ("0.333333", r"\frac{1}{3}", "accept", {"tolerance": 1e-5}),
    ("0.33", r"\frac{1}{3}", "reject", {"tolerance": 1e-5}),
    ("3.14159", r"\pi", "accept", {"tolerance": 1e-4}),
    ("3.14", r"\pi", "reject", {"tolerance": 1e-4}),
    ("1.4142", r"\sqrt{2}", "accept", {"relative_tolerance": 1e-4}),
    ("1.41", r"\sqrt{2}", "reject", {"relative_tolerance": 1e-4}),
    ("2.718", "e", "accept", {"tolerance": 0.001}),
    ("(0.3333, 0.5)", r"(\frac{1}{3}, \frac{1}{2})", "accept", {"tolerance": 1e-3}),
    # decided on certified enclosures; exactly at the bound is undecided
    (r"\frac{1}{3} + 10^{-5}", r"\frac{1}{3}", "unknown", {"tolerance": 1e-5}),
    (r"\pi + 2 \cdot 10^{-5}", r"\pi", "reject", {"tolerance": 1e-5}),
    (r"3.14159 + (\sqrt{3+2\sqrt{2}}-1-\sqrt{2})", r"\pi", "accept", {"tolerance": 1e-5}),
    ("3.1416 + 10^{-200}", r"\pi", "accept", {"relative_tolerance": 1e-5}),
]

#: A candidate's `50%` / `30°` stands for the bare reference `50` / `30` only when the question
#: asks for a percentage or degrees; elsewhere `%` is /100 and `°` is pi/180.
_PERCENT_Q = {"question": "What percent of the class passed?"}
_DEGREE_Q = {"question": "What is the angle in degrees?"}
_PLAIN_Q = {"question": "What fraction of the tank is full?"}
_UNITS: list[tuple[str, str, str, dict[str, Any]]] = [
    (r"50\%", "50", "accept", _PERCENT_Q),
    (r"0.5\%", "0.5", "accept", _PERCENT_Q),
    (r"50\%", "50", "reject", _PLAIN_Q),
    (r"0.5\%", "0.5", "reject", _PLAIN_Q),
    (r"50\%", "0.5", "accept", _PLAIN_Q),
    (r"30^\circ", "30", "accept", _DEGREE_Q),
    ("30°", "30", "accept", _DEGREE_Q),
    ("30°", "30", "unknown", _PLAIN_Q),  # pi/6, or 30 with a unit: the readings disagree
    ("45°", "30", "reject", _PLAIN_Q),  # both readings are wrong
    # a unit only the candidate gives counts when the question uses it, else it is undecided
    (r"5\text{ cm}", "5", "accept", {"question": "How long is it, in cm?"}),
    ("18 dollars", "18", "accept", {"question": "How many dollars does she earn?"}),
    (r"5\text{ km}", "5", "unknown", {"question": "How far is it in meters?"}),
    ("5 miles", "5", "unknown", {"question": "How many items are there?"}),
]


#: Declared assumptions make domain-changing rewrites equal (issue 11, item 4).
_ASSUMED: list[tuple[str, str, str, dict[str, Any]]] = [
    (r"e^{\ln x}", "x", "unknown", {"question": "Simplify."}),
    (r"e^{\ln x}", "x", "accept", {"question": "Simplify.", "assumptions": {"x": "positive"}}),
    (r"\sqrt{x}^2", "x", "accept", {"assumptions": {"x": "nonnegative"}}),
    (r"\sqrt{x}^2", "x", "unknown", {"assumptions": {"x": "real"}}),
    (r"\ln(xy)", r"\ln x + \ln y", "accept",
     {"assumptions": {"x": "positive", "y": "positive"}}),
    (r"\ln(x^2)", r"2\ln x", "accept", {"assumptions": {"x": "positive"}}),
    (r"\sqrt{x^2}", "|x|", "accept", {"assumptions": {"x": "real"}}),
    (r"\sqrt{x^2}", "x", "reject", {"assumptions": {"x": "real"}}),
    (r"\sqrt{n^2}", "n", "accept", {"assumptions": {"n": ["integer", "nonnegative"]}}),
]

#: Solve problems (no reference): candidate, equations, expected.
SOLVE: list[tuple[str, list[str], str]] = [
    (r"x = 2, x = 2 + 10^{150}(\sqrt{3+2\sqrt{2}}-1-\sqrt{2})", ["x^2 - 5x + 6 = 0"], "reject"),
    (r"x = 2, x = 3", ["x^2 - 5x + 6 = 0"], "accept"),
    (r"x = 2, x = 3 + 10^{-300}", ["x^2 - 5x + 6 = 0"], "reject"),
    (r"x = \sqrt{3+2\sqrt{2}}-1, x = -\sqrt{2}", ["x^2 - 2 = 0"], "accept"),
    (r"x = \sqrt{2}, x = \sqrt{3+2\sqrt{2}}-1", ["x^2 - 2 = 0"], "reject"),
    (r"x = \frac{1}{\sqrt{3+2\sqrt{2}}-1-\sqrt{2}}", ["x^2 - 2 = 0"], "reject"),
    ("x = -4", [r"\sqrt{x}^2 = -4"], "unknown"),
    ("x = 1", [r"\ln x = 0"], "unknown"),
    # issue 11 review: forms of a solution list
    (r"\{2\} \cup \{-2\}", ["x^2 = 4"], "accept"),
    (r"\{2\} \cup \{3\}", ["x^2 = 4"], "reject"),
    ("x = 2, -2 = x", ["x^2 = 4"], "accept"),
    ("x = |2|, x = -|2|", ["x^2 = 4"], "accept"),
]

#: Issue 11: prose, separators, order, asked units and the forms real outputs use.
_INCREASING = {"question": "List the four integers in increasing order."}
_METERS = {"question": "How many meters are in 5 kilometers?"}
_MINUTES = {"question": "How long does the trip take, in minutes?"}
_CHOICES = {"choices": ["A", "B", "C", "D", "E"]}
_READING: list[tuple[str, str, str, dict[str, Any]]] = [
    # 1. prose never reaches a verdict: names outside the problem's are not read
    ("the answer is not 0 but 5", "0", "unknown", {"question": "What is 5-5?"}),
    ("x times 0 plus 7", "0", "unknown", {"question": "What is 5-5?"}),
    ("It is 0", "0", "unknown", {}),
    ("zero times x", "0", "unknown", {}),
    ("five", "5", "unknown", {}),
    ("x", "5", "unknown", {}),
    (r"\sin^2 x + \cos^2 x", "1", "accept", {"variables": ["x"]}),
    ("Answer $ 9 $", "9", "accept", {}),
    ("Answer $ 8 $", "9", "reject", {}),
    ("the answer is 5", "5", "accept", {}),
    ("the answer is 4", "5", "reject", {}),
    ("the answer is 3!", "6", "unknown", {}),
    ("3!", "6", "accept", {}),
    ("We get $x = 2$ and so the area is $12$.", "12", "unknown", {}),
    ("5", "5 or maybe not", "unknown", {}),
    # 2. separators are never guessed
    ("11100110", r"\{11,100,110\}", "reject", {"question": "Which?"}),
    ("110,143", "110143", "unknown", {"question": "Which?"}),
    ("110,143", "110, 143", "unknown", {}),
    ("12,345", "12345", "accept", {"question": "How many people came?"}),
    ("12,346", "12345", "reject", {"question": "How many people came?"}),
    (r"\{1,000\}", r"\{1000\}", "unknown", {}),
    ("1,22", "1.22", "accept", {"decimal_comma": True}),
    ("1,22", "1.22", "unknown", {}),  # a decimal comma or a list: the locale is not said
    ("1,22", "1.22", "reject", {"decimal_comma": False}),
    ("1,5, 2", "1.5, 2", "unknown", {"decimal_comma": True}),
    # 3. order: asked for, declared, or else an unordered match is undecided
    ("15, 14, 6, 4", "4, 6, 14, 15", "reject", _INCREASING),
    ("4, 6, 14, 15", "4, 6, 14, 15", "accept", _INCREASING),
    ("15, 14, 6, 4", "4, 6, 14, 15", "unknown", {}),
    ("15, 14, 6, 4", "4, 6, 14, 15", "accept", {"ordered": False}),
    ("15, 14, 6, 4", "4, 6, 14, 15", "reject", {"ordered": True}),
    ("5, 6, 14, 15", "4, 6, 14, 15", "reject", {}),
    ("0", "0, 0", "unknown", {}),
    ("0", "0, 0", "reject", _INCREASING),
    ("2, 1", "1, 2", "reject", {"question": "Find a and b, respectively."}),
    ("2, 1", "1, 2", "reject", {"question": "Find the point (x, y)."}),
    # 5. a unit counts only when it is the one asked for
    ("5000 kilometers", "5000", "unknown", _METERS),
    ("5 kilometers", "5000", "unknown", _METERS),
    ("5000 meters", "5000", "accept", _METERS),
    ("5000 m", "5000", "unknown", _METERS),  # one letter outside \\text is a variable
    (r"5000\text{ m}", "5000", "accept", _METERS),
    ("180 hours", "180", "unknown", _MINUTES),
    ("180 minutes", "180", "accept", _MINUTES),
    (r"5\text{ km}", "5", "accept", {"unit": "kilometers"}),
    (r"\boxed{5\text{ km}}", "5", "accept", {"unit": "kilometers"}),
    (r"\text{5 km}", "5", "accept", {"unit": "kilometers"}),
    (r"\boxed{\text{5 km}}", "5", "accept", {"unit": "kilometers"}),
    (r"\boxed{\text{5 km}}", "5", "unknown", {"unit": "meters"}),
    (r"5\text{ kilometers}", "5", "unknown", {"question": "How far is it?"}),
    (r"\boxed{5\text{ kilometers}}", "5", "unknown", {"question": "How far is it?"}),
    (r"5\text{ meters}", r"5\text{ m}", "accept", {}),
    (r"5\text{ km}", r"5\text{ m}", "reject", {}),
    # 7. forms real outputs use
    (r"\[9\]", "9", "accept", {}),
    (r"\(9\)", "9", "accept", {}),
    ("Final Answer: The final answer is $9$. I hope it is correct.", "9", "accept", {}),
    ("Final Answer: The final answer is $8$. I hope it is correct.", "9", "reject", {}),
    ("Answer: 9", "9", "accept", {}),
    ("The answer is: 9", "9", "accept", {}),
    ("**Answer:** 9", "9", "accept", {}),
    ("**Answer:** 8", "9", "reject", {}),
    (r"\boxed{1}, \boxed{2}", "1, 2", "accept", {}),
    (r"\boxed{1} and \boxed{3}", "1, 2", "reject", {}),
    (r"\boxed{1} or \boxed{2}", "1, 2", "reject", {}),
    (r"\text{Yes}", "Yes", "accept", {}),
    ("Yes", r"\text{No}", "reject", {}),
    (r"\textbf{A}", "A", "accept", _CHOICES),
    (r"\mathrm{E}", "E", "accept", _CHOICES),
    ("(C)", "C", "accept", _CHOICES),
    (r"\text{(C)}", "C", "accept", _CHOICES),
    ("(B)", "C", "reject", _CHOICES),
    ("(F)", "C", "reject", _CHOICES),
    ("42", "C", "unknown", _CHOICES),
    (r"\textbf{A}", "A", "accept", {}),
    ("f(x)=2x+3", "2x+3", "accept", {}),
    ("f(x)=2x+4", "2x+3", "reject", {}),
    ("(p,q)=(3,2)", "(3,2)", "accept", {"question": "Find the ordered pair (p, q)."}),
    ("(p,q)=(2,3)", "(3,2)", "reject", {"question": "Find the ordered pair (p, q)."}),
    ("(p,q)=(3,2)", "(3,2)", "unknown", {}),  # which name is first in the reference?
    ("3:2", "3:2", "accept", {}),
    ("6:4", "3:2", "accept", {}),
    ("2:3", "3:2", "reject", {}),
    ("3:2", "1.5", "unknown", {}),
    ("3:2", "1.5", "accept", {"question": "What is the ratio of boys to girls?"}),
    ("204_5", "204_5", "accept", {}),
    ("204_{5}", "54", "unknown", {}),  # the right value, in another base than the reference
    ("204", "204_5", "accept", {}),
    ("54", "204_5", "unknown", {}),
    ("203", "204_5", "reject", {}),
    (r"\dbinom{5}{2}", "10", "accept", {}),
    (r"\\frac{1}{2}", "0.5", "accept", {}),
    (r"\\{1, 2\\}", r"\{2, 1\}", "accept", {}),
    ("1", "1" * 3000, "unknown", {}),
]


#: Issue 11, review round 2 (reading): each false accept / false reject found, as its verdict now.
_HOURS = {"question": "How many minutes are in 3 hours? Give your answer in minutes, not in hours."}
_RUNNER = {"question": "A runner covers 5 kilometers. Her pace is measured in kilometers per hour. "
                       "How many meters did she run?"}
_SPEEDS = {"question": "Speeds are given in km per hour. How far did she go?"}
_PER_HOUR = {"question": "How many km per hour does she drive?"}
_PQ = {"question": "Find the ordered pair (p, q)."}
_ANGLE = {"question": "In triangle ABC, find angle B."}
_DECIMAL = {"decimal_comma": True}
_REVIEW: list[tuple[str, str, str, dict[str, Any]]] = [
    # 1. only the unit the asking sentence asks for counts ("not in hours", givens do not)
    ("180 hours", "180", "unknown", _HOURS),
    ("180 minutes", "180", "accept", _HOURS),
    ("5000 kilometers", "5000", "unknown", _RUNNER),
    ("5000 meters", "5000", "accept", _RUNNER),
    ("2 km", "2", "unknown", _SPEEDS),
    ("60 km", "60", "unknown", _PER_HOUR),
    (r"60\text{ km per hour}", "60", "accept", _PER_HOUR),
    # 3. math segments of every delimiter kind are read together
    ("The answer is $$3$$, or maybe $4$.", "3", "unknown", {}),
    (r"The answer is $3$ or maybe \(4\)", "4", "unknown", {}),
    ("We get $$x = 4$$ hence $3$", "4", "unknown", {}),
    (r"$2$ and \(3\)", "2, 3", "accept", {"ordered": False}),
    # 4. a box inside other text inside a box
    (r"\boxed{\boxed{3}\text{ or }4}", "3", "unknown", {}),
    (r"\boxed{3 \text{ or } \fbox{4}}", "4", "unknown", {}),
    (r"\boxed{\boxed{1} or \boxed{2}}", "1", "reject", {}),
    # 5., 21. a comma between digits: thousands, list or decimal comma, all readings must agree
    ("12{,}5", "125", "reject", {}),  # 12.5 or the list 12, 5: wrong both ways
    ("12{,}5", "12.5", "unknown", {}),
    ("12{,}5", "12.5", "accept", _DECIMAL),
    (r"1,\!000", "1000", "accept", {"question": "How many people came?"}),
    ("10{,}000", "10000", "accept", {"question": "How many people came?"}),
    ("3,5", "3.5", "unknown", {}),
    ("1,250", "1.25", "unknown", {}),
    ("4,5", "3.5", "reject", {}),
    ("3,5", "3.5", "unknown", {"question": "How much does it weigh?"}),
    ("1,250", "1.25", "unknown", {"question": "How much does the bag weigh, in kg?"}),
    ("1,250", "1250", "accept", {"question": "How many people came?"}),
    # 6. with a decimal comma, dots may group thousands
    ("1.000", "1", "unknown", _DECIMAL),
    ("1.000", "1000", "unknown", _DECIMAL),
    ("2.500", "7", "reject", _DECIMAL),
    ("1.5", "1.5", "accept", _DECIMAL),
    # 7. a correction after the answer line
    ("**Answer:** 3\n\nCorrection: 4", "3", "unknown", {}),
    ("Answer: 3.\n Hmm, no. Final: 4", "3", "unknown", {}),
    ("Answer: 3\nWait, actually it is 4", "3", "unknown", {}),
    ("Answer: C\nD", "C", "unknown", _CHOICES),
    (r"\boxed{3}. Wait, actually it is 4.", "3", "unknown", {}),
    ("Answer: 3\n\nI hope this helps!", "3", "accept", {}),
    ("The answer is \\boxed{3}.\nSo the answer is 3.", "3", "accept", {}),
    # 8. a word is never a label
    ("0 = incorrect", "0", "unknown", {}),
    ("wrong = 0", "0", "unknown", {}),
    (r"\theta = 30", "30", "accept", {}),
    # 9. a set for a question that asks for an order
    (r"\{15, 14, 6, 4\}", "4, 6, 14, 15", "unknown", _INCREASING),
    (r"\{15, 14, 6, 5\}", "4, 6, 14, 15", "reject", _INCREASING),
    # 10. g(y)= before a value without y; ~ and \approx are "approximately"
    ("g(y)=2x+3", "2x+3", "unknown", {"variables": ["x"]}),
    ("g(x)=2x+3", "2x+3", "accept", {"variables": ["x"]}),
    ("f(x)=5", "5", "accept", {}),
    ("~3", "3", "unknown", {}),
    (r"x \approx 3", "3", "unknown", {}),
    (r"5~\text{cm}", r"5\text{ cm}", "accept", {}),
    # 15. a tuple against a bare list of the same items
    ("(4, 6, 14, 15)", "4, 6, 14, 15", "accept", _INCREASING),
    ("(4, 6, 15, 14)", "4, 6, 14, 15", "reject", _INCREASING),
    ("1, 2", "(1, 2)", "accept", {"question": "Find the point."}),
    ("2, 1", "(1, 2)", "reject", {"question": "Find the point."}),
    ("1, 2", "(1, 2)", "unknown", {}),  # the reference may be an open interval
    ("(1, 2, 3)", "1, 2, 3", "unknown", {}),
    ("(1, 2, 4)", "1, 2, 3", "reject", {}),
    # 16. a degree sign when the question does not speak of degrees
    (r"30^\circ", "30", "unknown", _ANGLE),
    (r"30^\circ", r"\frac{\pi}{6}", "accept", _ANGLE),
    (r"45^\circ", "30", "reject", _ANGLE),
    (r"30^\circ", "30", "accept", {"question": "Find angle B in degrees."}),
    # 17. a letter run: a word or a product; a letter's case
    ("abc", "cba", "unknown", {}),
    ("abc", "abc", "accept", {}),
    ("abd", "cba", "reject", {}),
    ("(B)", "b", "unknown", {}),
    ("A", "a", "unknown", {}),
    (r"\textbf{A}", "a", "unknown", {}),
    ("Yes", "yes", "unknown", {}),
    (r"\text{Yes}", "yes", "accept", {}),
    ("ab", "ba", "accept", {}),
    # 19. a named tuple in another order than the reference's
    ("(q,p)=(2,3)", "(3,2)", "unknown", {}),
    ("(q,p)=(2,3)", "(3,2)", "accept", _PQ),
    ("(q,p)=(3,2)", "(3,2)", "reject", _PQ),
    ("(q,p)=(2,3)", "(p,q)=(3,2)", "accept", {}),
    ("(y,x)=(2,1)", "(1,2)", "accept", {"question": "Where do the lines meet?"}),
    ("(p,q)=(5,7)", "(3,2)", "reject", {}),
    # base n: the right value in another base than the reference's is undecided
    ("204_5", "54", "unknown", {}),
    ("2_{10}", "10_2", "unknown", {}),
    ("204_5", "204", "unknown", {}),
    ("203_5", "54", "reject", {}),
    ("204_5", "204_{5}", "accept", {}),
]

#: Issue 11, review round 3 (reading): each item as its verdict now. Candidates are replies read
#: by the domain (one extraction), then by the verifier (no second extraction).
_APPLES = {"question": "How many apples are left?"}
_CLIPS = {"question": "How many clips did Natalia sell?"}
_CENTS = {"question": "How many cents does it cost?"}
_EUROS = {"question": "How much, in euros?"}
_MONEY = {"question": "How much money did she earn?"}
_SINES = {"question": r"Solve $\sin x = 1/2$ for $0^\circ \le x < 360^\circ$. Enter all "
                      "solutions, separated by commas."}
_OPTIONS = {"question": "What is 1+2? (A) 1 (B) 2 (C) 3 (D) 4 (E) 5"}
_REVIEW3: list[tuple[str, str, str, dict[str, Any]]] = [
    # 1. the answer is extracted once; #### reads one line, and what follows it is checked
    (r"\boxed{4 #### 3}", "3", "unknown", _APPLES),
    ("#### 4\nHmm, that's wrong. The answer is 3", "3", "unknown", _APPLES),
    ("#### 4 so the answer is 3", "3", "unknown", _APPLES),
    (r"\boxed{4 answer: 3}", "3", "unknown", _APPLES),
    ('{"answer": "4. The answer is 3"}', "3", "unknown", _APPLES),
    ("#### 3\n\nThe answer is 4.", "4", "unknown", _APPLES),
    ("#### 3\n\nThe answer is 3.", "3", "accept", _APPLES),
    ("#### 3", "3", "accept", _APPLES),
    ("#### 4", "3", "reject", _APPLES),
    # 3., 11. a currency is a unit: it must be the one asked for
    (r"\boxed{\$5}", "5", "unknown", _CENTS),
    (r"\boxed{\$5}", "5", "unknown", {**_CENTS, "unit": "cents"}),
    (r"The answer is \$5.", "5", "unknown", _CENTS),
    ("#### $5", "5", "unknown", _CENTS),
    (r"\boxed{\$5}", "5", "unknown", {"question": "What is the price in euros?"}),
    ("5¢", "5", "accept", _CENTS),
    (r"\boxed{\$5}", "5", "accept", _MONEY),
    ("$5", "5", "accept", _MONEY),
    ("5€", "5", "accept", _EUROS),
    ("€5", "5", "accept", _EUROS),
    ("€6", "5", "reject", _EUROS),
    ("£5", "5", "unknown", _EUROS),
    ("5€", "5", "unknown", _MONEY),  # the question names no euros
    ("3,50 €", "3.5", "accept", {**_EUROS, "decimal_comma": True}),
    ('3"', "3", "unknown", {"question": "How long is it?"}),
    ("3'", "3", "unknown", {"question": "How long is it?"}),
    # 4. answer-like text after the final answer (number words too): UNKNOWN
    ("\\boxed{3}\n\nHold on, I miscounted; there are four left.", "3", "unknown", _APPLES),
    ("\\boxed{3}\n\nOn second thought, it's four.", "3", "unknown", _APPLES),
    ("Answer: C\n\nLet me reconsider. Option four.", "C", "unknown", _CHOICES),
    ("The answer is $3$ not 4", "3", "unknown", _APPLES),
    ("\\boxed{3}\n\nHope this helps!", "3", "accept", _APPLES),
    ("Final Answer: The final answer is 72. I hope it is correct.", "72", "accept", _CLIPS),
    ("Final Answer: The final answer is 71. I hope it is correct.", "72", "reject", _CLIPS),
    # 6. Markdown emphasis or code around the whole answer (`2**3` stays a power)
    ("The answer is **72**.", "72", "accept", _CLIPS),
    ("**72**", "72", "accept", _CLIPS),
    ("#### **72**", "72", "accept", _CLIPS),
    ("The answer is *72*.", "72", "accept", _CLIPS),
    ("__72__", "72", "accept", _CLIPS),
    ("`72`", "72", "accept", _CLIPS),
    ('{"answer": "**72**"}', "72", "accept", _CLIPS),
    ("**Answer: 72**", "72", "accept", _CLIPS),
    ("So the total is **72 clips**.", "72", "unknown", _CLIPS),
    ("**71**", "72", "reject", _CLIPS),
    ("2**3", "8", "accept", {}),
    # 7. degree signs in a list, for a question in degrees
    (r"\boxed{30^\circ, 150^\circ}", "30, 150", "accept", _SINES),
    (r"30^\circ \text{ and } 150^\circ", "30, 150", "accept",
     {"question": "Find all angles in degrees."}),
    (r"\{30^\circ, 150^\circ\}", "30, 150", "accept", _SINES),
    (r"\boxed{30^\circ}, \boxed{150^\circ}", "30, 150", "accept", _SINES),
    (r"\boxed{30^\circ, 160^\circ}", "30, 150", "reject", _SINES),
    # 8. a value with its working: a chain of proven equalities whose last side is the value
    ("Answer: 5 - 2 = 3", "3", "accept", _APPLES),
    ("The answer is: $5 - 2 = 3$", "3", "accept", _APPLES),
    ("Answer: 5 - 2 = 4", "3", "unknown", _APPLES),
    ("Answer: 6 - 2 = 4", "3", "unknown", _APPLES),
    ("The answer is 3 apples (since 5 - 2 = 3).", "3", "unknown", _APPLES),
    (r"\boxed{204_5 = 54}", "204_5", "unknown", {"question": "Express 54 in base 5."}),
    (r"\boxed{(x+1)^2 = x^2+2x+1}", "x^2+2x+1", "unknown", {"question": "Expand $(x+1)^2$."}),
    (r"\boxed{m=n=1}", "(1,1)", "unknown", {"question": "Enter the ordered pair $(m,n)$."}),
    ("x = 4", "3", "reject", _APPLES),
    # 9. a reference that is an option letter means multiple choice
    ("The answer is (C) 3.", r"\text{(C)}", "unknown", _OPTIONS),
    (r"\boxed{\textbf{(C) }3}", r"\text{(C)}", "unknown", _OPTIONS),
    (r"\boxed{3}", r"\text{(C)}", "unknown", _OPTIONS),
    (r"\boxed{C}", r"\text{(C)}", "accept", _OPTIONS),
    ("(C)", r"\textbf{(C)}", "accept", _OPTIONS),
    (r"\textbf{(B)}", "(C)", "reject", _OPTIONS),
    ("c", "C", "unknown", _OPTIONS),
    # 10. separators: `;` separates items; a thousands dot or space is UNKNOWN
    ("1.250,50", "1250.5", "unknown", _MONEY),
    ("1.250,5", "1250.5", "unknown", _MONEY),
    ("1.250", "1250", "unknown", _MONEY),
    ("1.251", "1250", "reject", _MONEY),
    ("1,5; 2", "1.5, 2", "accept", _DECIMAL),
    ("1; 2", "1, 2", "accept", {}),
    (r"\{1; 2\}", r"\{1, 2\}", "accept", {}),
    ("(1; 2)", "(1, 2)", "accept", {}),
    ("1,5; 3", "1.5, 2", "reject", _DECIMAL),
    ("5 000 meters", "5000", "unknown", {"question": "How far did she run, in meters?"}),
    ("5 000", "5000", "unknown", _MONEY),
    # 14. base-n numerals with letters as digits (bases over 10)
    ("A3_{16}", "A3_{16}", "accept", {"question": "Express the answer in base 16."}),
    ("163", "A3_{16}", "unknown", {"question": "Express the answer in base 16."}),
    ("A4_{16}", "A3_{16}", "reject", {"question": "Express the answer in base 16."}),
    ("A3_{16}", "163", "unknown", {}),
]

_HIDDEN_ONE = r"\sqrt{3+2\sqrt2}-\sqrt2"  # exactly 1, which floating point cannot tell
_HIDDEN_ZERO = r"(\sqrt{3+2\sqrt{2}}-1-\sqrt{2})"
#: Review 1 of the issue 11 fixes: exact decisions (items 11-14 and the leaked messages).
_EXACT: list[tuple[str, str, str, dict[str, Any]]] = [
    # 11. a factorial's argument is proven a whole number (or proven not one), never by form
    (r"(2\log_2 \sqrt{8})!", "6", "accept", {}),
    (r"(2\log_2 \sqrt{8})!", "24", "reject", {}),
    (rf"(1+{_HIDDEN_ZERO})!", "1", "accept", {}),
    (rf"(10^{{200}}{_HIDDEN_ZERO})!", "1", "accept", {}),  # 0! = 1
    (r"(\sqrt{2})!", "1", "reject", {}),                   # proven strictly between 1 and 2
    (r"(-2000\sqrt{2})!", "1", "reject", {}),              # proven negative
    (r"(2000\sqrt{2})!", "1", "unknown", {}),              # over the factorial cap
    # 12. a root's index over the cap is too complex, not a syntax error; index proven exactly
    (r"\sqrt[300]{2^{300}}", "2", "unknown", {}),
    (r"\sqrt[1000]{2^{500}}", r"\sqrt2", "unknown", {}),
    (r"\sqrt[\log_2 8]{8}", "2", "accept", {}),
    (r"\sqrt[\log_2 8]{8}", "3", "reject", {}),
    (r"\sqrt[1]{2}", "2", "accept", {}),
    (r"\sqrt[0]{2}", "2", "reject", {}),                   # 2^{1/0}: undefined
    (r"\sqrt[2.5]{4}", "2", "unknown", {}),
    (r"\sqrt[n]{x}", r"\sqrt[n]{x}", "unknown", {}),
    # 13. integers too long to print (Python's 4300-digit limit) are UNKNOWN, both sides
    (r"\lfloor 10^{5000}\pi \rfloor - \lfloor 10^{5000}\pi \rfloor", "0", "unknown", {}),
    ("1", r"\lfloor 10^{5000}\pi \rfloor", "unknown", {}),
    (r"\lfloor 10^{30}\pi \rfloor", "3141592653589793238462643383279", "accept", {}),
    (r"\lfloor 10^{30}\pi \rfloor", "3141592653589793238462643383280", "reject", {}),
    (r"\lceil 10^{1000}\pi \rceil - \lfloor 10^{1000}\pi \rfloor", "1", "accept", {}),
    (rf"\lceil {_HIDDEN_ONE} \rceil", "1", "accept", {}),
    (r"10^{5000}", r"10^{5000}+1", "reject", {}),
    # 14. infinities compared exactly: the sign of the finite factor is proven, or UNKNOWN
    (rf"\infty (1 + 10^{{200}}{_HIDDEN_ZERO})", r"\infty", "accept", {}),
    (rf"\infty (1 - 2({_HIDDEN_ONE}))", r"\infty", "reject", {}),  # -oo
    (rf"\infty {_HIDDEN_ZERO}", r"\infty", "unknown", {}),         # oo * 0
    (r"\infty + \sqrt{2}", r"\infty", "accept", {}),
    (r"\infty + i", r"\infty", "unknown", {}),
    (r"-\infty", r"\infty", "reject", {}),
    (rf"(-\infty, 1 + 10^{{200}}{_HIDDEN_ZERO})", r"(-\infty, 1)", "accept", {}),
    # smaller: the verdict stands, sympy's text does not leak (tests/test_math_exact.py)
    (rf"\frac{{\ln({_HIDDEN_ONE})}}{{\ln({_HIDDEN_ONE})}}", "1", "reject", {}),  # 0/0
    (r"\lfloor 10^{200}\pi\rfloor + 1", "1", "reject", {}),
]


def _rows() -> list[tuple[str, str, str, dict[str, Any]]]:
    return _table_rows() + _TOLERANT + _UNITS + _READING + _ASSUMED + _REVIEW + _EXACT + _REVIEW3


def _table_rows() -> list[tuple[str, str, str, dict[str, Any]]]:
    rows: list[tuple[str, str, str, dict[str, Any]]] = []
    for line in _TABLE.strip().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cand, ref, expected = (part.strip() for part in line.split("|||"))
        rows.append((cand, ref, expected, {}))
    return rows


PAIRS = _rows()
#: The rows of the plain table (no question, no declared fields): equality there is symmetric.
TABLE_PAIRS = _table_rows()
