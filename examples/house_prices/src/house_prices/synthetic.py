"""Synthetic houses, so the demo and the benchmarks need no download."""

import numpy as np
import pandas as pd

CITIES = ("Lyon", "Nantes", "Paris")


def make_houses(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(CITIES, size=rows)
    area = rng.uniform(20, 200, size=rows).round(1)
    rooms = rng.integers(1, 8, size=rows)
    age = rng.integers(0, 120, size=rows)
    city_premium = pd.Series(city).map({"Lyon": 1.0, "Nantes": 0.8, "Paris": 1.9}).to_numpy()
    price = (area * 3_100 * city_premium + rooms * 9_000 - age * 400).round(0)
    price += rng.normal(0, 15_000, size=rows).round(0)
    return pd.DataFrame({"area": area, "rooms": rooms, "age": age, "city": city, "price": price})


if __name__ == "__main__":
    import sys

    make_houses(int(sys.argv[1])).to_csv(sys.argv[2], index=False)
