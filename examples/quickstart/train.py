"""A tiny training script: logistic regression on synthetic data with numpy, a second or two.

The features come in different scales (3, 1, 1, 0.5, 0.5), so plain gradient descent is sensitive to its step:
a sweep over grid.yml shows validation accuracy from about 0.65 (learning_rate 0.01: too slow for 20 epochs) to
about 0.90 (1.0), and worse again at 3.0 (it overshoots along the largest feature), while l2 at these values
changes nothing: one flag that matters, one that does not.

Run it tracked:  tune examples/quickstart/train.py --flag learning_rate=0.1
Sweep it:        tune examples/quickstart/train.py --flags examples/quickstart/grid.yml
Plain Python:    python examples/quickstart/train.py --epochs 5   (flags work, nothing is recorded)
"""

import numpy as np

from tuner import flag_integer, flag_numeric, flags, log_metrics, write_run_metadata

FLAGS = flags(
    flag_numeric("learning_rate", 0.1, "gradient step size"),
    flag_numeric("l2", 0.0001, "L2 penalty"),
    flag_integer("epochs", 20, "passes over the training data"),
    flag_integer("seed", 0, "random seed of the data"),
)

rng = np.random.default_rng(FLAGS.seed)
true_w = np.array([0.5, -1.0, 1.5, 2.0, -2.5])  # on standardized features
z = rng.normal(size=(2000, 5))
y = (z @ true_w + rng.normal(scale=0.5, size=2000) > 0).astype(float)
x = z * np.array([3.0, 1.0, 1.0, 0.5, 0.5])  # the features as measured: unequal scales
x_train, y_train, x_val, y_val = x[:1500], y[:1500], x[1500:], y[1500:]


def sigmoid(v):
    return 1 / (1 + np.exp(-np.clip(v, -30, 30)))  # clipped: a too-large step must not overflow


def evaluate(w, xs, ys):
    p = sigmoid(xs @ w)
    loss = float(-np.mean(ys * np.log(p + 1e-9) + (1 - ys) * np.log(1 - p + 1e-9)))
    acc = float(np.mean((p > 0.5) == ys))
    return loss, acc


w = np.zeros(5)
for epoch in range(1, FLAGS.epochs + 1):
    p = sigmoid(x_train @ w)
    grad = x_train.T @ (p - y_train) / len(y_train) + FLAGS.l2 * w
    w -= FLAGS.learning_rate * grad
    loss, acc = evaluate(w, x_train, y_train)
    val_loss, val_acc = evaluate(w, x_val, y_val)
    log_metrics(epoch=epoch, loss=loss, acc=acc, val_loss=val_loss, val_acc=val_acc)
    print(f"epoch {epoch}: loss={loss:.4f} acc={acc:.3f} val_loss={val_loss:.4f} val_acc={val_acc:.3f}")

test_loss, test_acc = evaluate(w, x_val, y_val)
write_run_metadata("evaluation", {"loss": test_loss, "acc": test_acc})
print(f"test_loss: {test_loss:.4f}  test_acc: {test_acc:.4f}")
