"""The cost of emptying the recorders after every chunk, by the way it is done.

The run loop (``microcircuit.network.simulate_chunk``) reads the spike recorder's and the multimeter's
events after every chunk and empties them (``n_events = 0``). PyNEST's ``NodeCollection.set`` and
attribute assignment (``device.n_events = 0``) first read the device's whole status, converting every
event it holds, before they set anything; ``network._clear_events`` makes only the kernel call they
end with. docs/benchmarks.md ("Recording membrane potentials") quotes the difference.

Measured on the network a run builds (``microcircuit.network.build``): scale 0.1, Poisson background,
2 threads, spikes of all neurons and V_m and I_syn of ``--record-vm`` neurons per population every 1 ms
recorded. ``--chunks`` chunks of 100 ms are simulated after a 500 ms warm-up (a 100 ms chunk holds
100 samples of every recorded neuron and the spikes of that chunk); after every chunk both devices'
events are read (timed, ``device.events``) and then emptied in one of three ways, taking turns
chunk by chunk (so that a drift of the machine's speed hits all three alike): ``set``
(``device.set(n_events=0)``), ``attribute`` (``device.n_events = 0``) and ``kernel``
(``network._clear_events``). Prints the wall time of ``Simulate`` per chunk, for scale, and the mean,
median and maximum milliseconds per chunk of reading and of each way of emptying, for each device,
and checks that every way left the device empty::

    python benchmarks/clear_events.py
    python benchmarks/clear_events.py --scale 0.1 --record-vm 10 --chunks 36 --threads 2

Wall-clock times: on a shared machine, give the load (``uptime``) beside the numbers.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import microcircuit as mc
from microcircuit import network
from microcircuit.connectivity import load_table
from microcircuit.parameters import derive

WAYS = {
    "set": lambda device: device.set(n_events=0),
    "attribute": lambda device: setattr(device, "n_events", 0),
    "kernel": network._clear_events,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--scale", type=float, default=0.1)
    p.add_argument("--record-vm", type=int, default=10, help="neurons per population whose V_m is recorded")
    p.add_argument("--chunks", type=int, default=36, help="chunks of 100 ms after the warm-up (a multiple of 3)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    config = mc.Config().replace(
        network={"n_scaling": args.scale, "k_scaling": args.scale, "background": "poisson"},
        simulation={"threads": args.threads, "record": True, "record_vm": args.record_vm, "t_presim": 500.0,
                    "t_sim": 100.0 * args.chunks})
    derived = derive(config, load_table(config.network.connectivity))
    net = network.build(config, derived)
    nest = network._nest()
    devices = {"spike recorder": net.recorder, "multimeter": net.multimeter}
    nest.Simulate(config.simulation.t_presim)
    for device in devices.values():
        network._clear_events(device)
    names = list(WAYS)
    read = {d: [] for d in devices}
    clear = {(d, w): [] for d in devices for w in names}
    events = {d: [] for d in devices}
    simulate = []
    for i in range(args.chunks):
        way = names[i % len(names)]
        t0 = time.perf_counter()
        nest.Simulate(100.0)
        simulate.append(time.perf_counter() - t0)
        for name, device in devices.items():
            t0 = time.perf_counter()
            got = device.events
            read[name].append(time.perf_counter() - t0)
            events[name].append(len(got["senders"]))
            t0 = time.perf_counter()
            WAYS[way](device)
            clear[name, way].append(time.perf_counter() - t0)
            if device.n_events != 0:
                raise RuntimeError(f"{way} left {device.n_events} events in the {name}")
    print(f"scale {args.scale:g} ({derived.n_neurons} neurons), {args.threads} threads, spikes of all neurons and "
          f"V_m and I_syn of {net.vm_neurons and len(net.vm_neurons)} neurons every "
          f"{config.simulation.vm_interval:g} ms recorded; {args.chunks} chunks of 100 ms")
    t = np.array(simulate) * 1e3
    print(f"Simulate(100 ms): mean {t.mean():.1f} ms, median {np.median(t):.1f} ms per chunk "
          "(the scale of the costs below)")
    print(f"{'device':15} {'events/chunk':>12} {'way':>10} {'chunks':>6} {'mean ms':>8} {'median ms':>9} {'max ms':>7}")
    for name in devices:
        n_events = np.mean(events[name])
        t = np.array(read[name]) * 1e3
        print(f"{name:15} {n_events:12.0f} {'read':>10} {t.size:6d} {t.mean():8.3f} {np.median(t):9.3f} {t.max():7.3f}")
        for way in names:
            t = np.array(clear[name, way]) * 1e3
            print(f"{'':15} {'':12} {way:>10} {t.size:6d} {t.mean():8.3f} {np.median(t):9.3f} {t.max():7.3f}")
    network.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
