"""A tiny training script: logistic regression on synthetic data with numpy, a second or two.

Run it tracked:  tune examples/quickstart/train.py --flag learning_rate=0.1
Sweep it:        tune examples/quickstart/train.py --flags examples/quickstart/grid.yml
Plain Python:    python examples/quickstart/train.py --epochs 5   (flags work, nothing is recorded)
"""

import numpy as np

from tuner import flag_integer, flag_numeric, flags, log_metrics, write_run_metadata

FLAGS = flags(
    flag_numeric("learning_rate", 0.1, "gradient step size"),
    flag_numeric("l2", 0.001, "L2 penalty"),
    flag_integer("epochs", 10, "passes over the training data"),
    flag_integer("seed", 0, "random seed of the data"),
)

rng = np.random.default_rng(FLAGS.seed)
true_w = rng.normal(size=5)
x = rng.normal(size=(2000, 5))
y = (x @ true_w + rng.normal(scale=0.5, size=2000) > 0).astype(float)
x_train, y_train, x_val, y_val = x[:1500], y[:1500], x[1500:], y[1500:]


def evaluate(w, xs, ys):
    p = 1 / (1 + np.exp(-(xs @ w)))
    loss = float(-np.mean(ys * np.log(p + 1e-9) + (1 - ys) * np.log(1 - p + 1e-9)))
    acc = float(np.mean((p > 0.5) == ys))
    return loss, acc


w = np.zeros(5)
for epoch in range(1, FLAGS.epochs + 1):
    p = 1 / (1 + np.exp(-(x_train @ w)))
    grad = x_train.T @ (p - y_train) / len(y_train) + FLAGS.l2 * w
    w -= FLAGS.learning_rate * grad
    loss, acc = evaluate(w, x_train, y_train)
    val_loss, val_acc = evaluate(w, x_val, y_val)
    log_metrics(epoch=epoch, loss=loss, acc=acc, val_loss=val_loss, val_acc=val_acc)
    print(f"epoch {epoch}: loss={loss:.4f} acc={acc:.3f} val_loss={val_loss:.4f} val_acc={val_acc:.3f}")

test_loss, test_acc = evaluate(w, x_val, y_val)
write_run_metadata("evaluation", {"loss": test_loss, "acc": test_acc})
print(f"test_loss: {test_loss:.4f}  test_acc: {test_acc:.4f}")
