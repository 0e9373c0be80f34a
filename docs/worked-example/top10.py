import csv, numpy as np
rows = list(csv.reader(open("data/winequality-red.csv")))
names, X = rows[0][:-1], np.array([[float(v) for v in r[:-1]] for r in rows[1:]])
energy = np.array([float(r[0]) for r in list(csv.reader(open("runs/wine/scores.csv")))[1:]])
z = (X - X.mean(0)) / X.std(0)
print("| row | energy | most unusual columns (value, z-score) |\n|---|---|---|")
for i in np.argsort(-energy)[:10]:
    top = np.argsort(-abs(z[i]))[:3]
    why = "; ".join(f"{names[j]} {X[i, j]:g} ({z[i, j]:+.1f})" for j in top)
    print(f"| {i + 2} | {energy[i]:.1f} | {why} |")
