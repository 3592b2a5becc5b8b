"""A PNG of the results table (needs matplotlib: `pip install nnfast[bench]`)."""


def draw(result, path):
    """Seconds per epoch by configuration and engine, log scale; returns False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [r for r in result["rows"] if r["seconds_per_epoch"] is not None]
    configs = sorted({(tuple(r["sizes"]), r["batch"]) for r in rows})
    engines = list(dict.fromkeys(f"{r['engine']} {r['dtype']}" for r in rows))
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / len(engines)
    for i, engine in enumerate(engines):
        ys = []
        for sizes, batch in configs:
            match = [r["seconds_per_epoch"] for r in rows
                     if (tuple(r["sizes"]), r["batch"]) == (sizes, batch) and f"{r['engine']} {r['dtype']}" == engine]
            ys.append(match[0] if match else 0)
        ax.bar([c + i * width for c in range(len(configs))], ys, width, label=engine)
    ax.set_xticks([c + 0.4 - width / 2 for c in range(len(configs))])
    ax.set_xticklabels([f"{'-'.join(map(str, s))}\nbatch {b}" for s, b in configs])
    ax.set_yscale("log")
    ax.set_ylabel("seconds per epoch (50,000 MNIST images, log scale)")
    ax.set_title(f"nnfast vs the book's loop and peers ({result['machine']['cpu']}, {result['when']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
