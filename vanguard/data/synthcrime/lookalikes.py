"""Look-alike normal behaviours, drawn with the same probabilities in normal and anomalous videos.

Two people meeting and talking, someone crouching at a bin or standing at a window, a car stopping for a while,
a blinking sign: each shares the first phases or a single cue of an anomaly (a fight's approach, vandalism's
crouch, a collision's stop, a fire's flicker), so that "people close together", "someone stops" or "a light
changes" never gives the label away. (Joggers are passers-by drawn in :mod:`.world`.)
"""

from __future__ import annotations

import numpy as np

from vanguard.data.synthcrime import effects as fx
from vanguard.data.synthcrime.agents import CROUCH, STAND, TALK, Car, hide_outside, lerp, set_span
from vanguard.data.synthcrime.anomalies import Ctx, arrive, leave


def meeting(ctx: Ctx) -> None:
    """Two people walk up to each other, stand and talk (no jitter, no fall), then go their ways."""
    s = ctx.scene.scale
    t = int(ctx.rng.uniform(0.15, 0.6) * ctx.T)
    mx, y = ctx.spot()
    p1 = ctx.person()
    p2 = ctx.person(avoid=(p1.color_name,))
    arrive(ctx, p1, t, (mx - 6 * s, y), ctx.walk_speed(), +1)
    arrive(ctx, p2, t, (mx + 6 * s, y), ctx.walk_speed(), -1)
    t1 = t + ctx.sec(ctx.rng.uniform(2.5, 5))
    for p, x, f in ((p1, mx - 6 * s, 1), (p2, mx + 6 * s, -1)):
        p.x[t : t1 + 1], p.y[t : t1 + 1] = x, y
        set_span(p, t, t1, TALK if f > 0 else STAND, f)
    leave(ctx, p1, t1 + 1, (mx - 6 * s, y), -1, ctx.walk_speed())
    leave(ctx, p2, t1 + 1, (mx + 6 * s, y), +1, ctx.walk_speed())
    for p in (p1, p2):
        hide_outside(p, ctx.scene.width, ctx.scene.height)
    ctx.cast.people += [p1, p2]
    ctx.say(
        t - ctx.sec(2), t1, f"A {p1.caption_name} and a {p2.caption_name} meet {ctx.where(mx)} and talk for a while."
    )
    ctx.say(t1, t1 + ctx.sec(3), "They say goodbye and walk off in opposite directions.")


def linger(ctx: Ctx, crouch: bool) -> None:
    """Someone stops at a prop: crouches by it (drops litter) or stands looking at it, then walks on."""
    prop = ctx.prop()
    if prop is None:
        return
    s = ctx.scene.scale
    band = ctx.scene.walk_bands[0]
    d = -1 if prop.center[0] < ctx.scene.width / 2 else 1  # stand on the side towards the middle
    feet = (prop.center[0] - d * (prop.x1 - prop.x0) / 2 - d * 6 * s, float(np.clip(prop.y1 + 2 * s, *band)))
    p = ctx.person()
    t = int(ctx.rng.uniform(0.15, 0.7) * ctx.T)
    arrive(ctx, p, t, feet, ctx.walk_speed(), d)
    t1 = t + ctx.sec(ctx.rng.uniform(1.2, 2.5) if crouch else ctx.rng.uniform(2, 5))
    p.x[t : t1 + 1], p.y[t : t1 + 1] = feet
    set_span(p, t, t1, CROUCH if crouch else STAND, d)
    leave(ctx, p, t1 + 1, feet, d, ctx.walk_speed())
    hide_outside(p, ctx.scene.width, ctx.scene.height)
    ctx.cast.people.append(p)
    doing = "crouches down next to it for a moment" if crouch else "stops to look at it"
    ctx.say(t - ctx.sec(2), t1, f"A {p.caption_name} walks up to the {prop.name} and {doing}, then walks on.")


def car_stop(ctx: Ctx) -> None:
    """A car drives in, waits a few seconds (as for a pedestrian), and drives on."""
    if not ctx.scene.lanes:
        return
    s, w = ctx.scene.scale, ctx.scene.width
    y, d = ctx.scene.lanes[int(ctx.rng.integers(len(ctx.scene.lanes)))]
    car = Car.new(ctx.rng, ctx.T, s, d)
    v = ctx.rng.uniform(30, 45) * s / ctx.fps
    xs = ctx.rng.uniform(0.3, 0.7) * w
    e0, e1 = (-16 * s, w + 16 * s) if d > 0 else (w + 16 * s, -16 * s)
    t = int(ctx.rng.uniform(0.2, 0.6) * ctx.T)
    t0 = t - int(abs(xs - e0) / v)
    lerp(car.x, car.y, t0, t, (e0, y), (xs, y))
    t1 = t + ctx.sec(ctx.rng.uniform(2, 4))
    car.x[t : t1 + 1], car.y[t : t1 + 1] = xs, y
    t2 = t1 + int(abs(e1 - xs) / v)
    lerp(car.x, car.y, t1, t2, (xs, y), (e1, y))
    car.visible[max(0, t0) : min(ctx.T, t2 + 1)] = True
    ctx.cast.cars.append(car)
    ctx.say(t0, t2, f"A {car.caption_name} stops on the road for a few seconds, then drives on.")


def add_normal_behaviours(ctx: Ctx, people_left: int) -> int:
    """Add look-alike normal behaviours with fixed probabilities; returns how many people remain for passers-by."""
    r = ctx.rng
    if people_left >= 2 and r.random() < 0.5:
        meeting(ctx)
        people_left -= 2
    if people_left >= 1 and r.random() < 0.35:
        linger(ctx, crouch=True)
        people_left -= 1
    if people_left >= 1 and r.random() < 0.35:
        linger(ctx, crouch=False)
        people_left -= 1
    if r.random() < 0.4:
        car_stop(ctx)
    if r.random() < 0.4:
        w, h, s = ctx.scene.width, ctx.scene.height, ctx.scene.scale
        ctx.cast.effects.append(fx.Sign(r, r.uniform(0.05, 0.8) * w, r.uniform(0.02, 0.2) * h, s, ctx.fps))
    return people_left
