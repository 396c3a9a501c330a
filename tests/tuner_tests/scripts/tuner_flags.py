"""A script written for tuner: tuner.flags()."""
from _echo import echo

import tuner

FLAGS = tuner.flags(tuner.flag_numeric("lr", 0.1, "learning rate"), tuner.flag_integer("units", 4),
                    tuner.flag_boolean("fast", False), tuner.flag_string("act", "relu"))
echo(dict(FLAGS))
