import argparse
raise RuntimeError("no GPU found")
