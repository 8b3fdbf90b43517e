"""Anomaly scripts, one per category, and the context they share with the look-alike normal behaviours.

An anomaly script places its actors so that the anomalous part happens in a planned window of frames and returns
an :class:`Event`: the category, the inclusive frame interval, and the subjects whose boxes are the ground truth.
Most categories are told by motion or interaction over time (a fight's jitter and fall, a snatch and a run, a
collision and stop, repeated strikes that break a prop, shots and a fall), two by appearance (explosion, fire).
The look-alike normal behaviours that make single cues ambiguous are in :mod:`.lookalikes`; they place their
people with this module's :class:`Ctx`, :func:`arrive` and :func:`leave`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vanguard.data.synthcrime import effects as fx
from vanguard.data.synthcrime.agents import (
    AIM,
    CHASE,
    COLORS,
    CROUCH,
    FALLEN,
    FIGHT,
    RUN,
    STAND,
    STRIKE,
    WALK,
    Car,
    Cast,
    Person,
    clip_box,
    hide_outside,
    lerp,
    set_span,
    walk_segment,
)
from vanguard.data.synthcrime.scenes import Prop, Scene

#: category -> scene kinds it can happen in
SCENES_FOR = {
    "Fighting": ("street", "parking", "plaza", "shop", "highway", "campus"),
    "Robbery": ("street", "parking", "plaza", "shop", "campus"),
    "RoadAccidents": ("street", "parking", "highway"),
    "Explosion": ("street", "parking", "plaza", "highway", "campus"),
    "Arson": ("street", "parking", "plaza", "shop", "campus"),
    "Vandalism": ("street", "parking", "plaza", "shop", "campus"),
    "Shooting": ("street", "parking", "plaza", "shop", "highway", "campus"),
}
#: how many people an anomaly's actors take from the video's people budget
PEOPLE_USED = {
    "Fighting": 2,
    "Robbery": 2,
    "RoadAccidents": 0,
    "Explosion": 1,
    "Arson": 1,
    "Vandalism": 1,
    "Shooting": 2,
}


@dataclass
class Event:
    category: str
    start: int
    end: int  # inclusive
    subjects: list  # objects with box(t); agents also have visible[t]
    visible_from: int = -1  # first frame that shows the event itself (the clear world starts the interval there)

    def boxes(self, t: int, w: int, h: int) -> list[tuple[float, float, float, float]]:
        """Pixel boxes of the anomalous subjects at frame ``t``: one union box when it covers at most a quarter of
        the frame, else one box per subject."""
        parts = []
        for sub in self.subjects:
            if hasattr(sub, "visible") and not sub.visible[t]:
                continue
            b = sub.box(t)
            b = clip_box(b, w, h) if b is not None else None
            if b is not None:
                parts.append(b)
        if not parts:
            return []
        u = (min(b[0] for b in parts), min(b[1] for b in parts), max(b[2] for b in parts), max(b[3] for b in parts))
        return [u] if (u[2] - u[0]) * (u[3] - u[1]) <= 0.25 * w * h else parts


class _During:
    """A subject that counts only between two frames (an arsonist while next to the fire)."""

    def __init__(self, sub, t0: int, t1: int):
        self.sub, self.t0, self.t1 = sub, t0, t1

    def box(self, t: int):
        return self.sub.box(t) if self.t0 <= t <= self.t1 and self.sub.visible[t] else None


class _Static:
    def __init__(self, prop: Prop):
        self.prop = prop

    def box(self, t: int):
        p = self.prop
        return p.x0, p.y0, p.x1, p.y1


@dataclass
class Ctx:
    rng: np.random.Generator
    scene: Scene
    T: int
    fps: float
    cast: Cast

    def sec(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.fps)))

    def walk_speed(self) -> float:
        return self.rng.uniform(8, 15) * self.scene.scale / self.fps

    def run_speed(self) -> float:
        return self.rng.uniform(36, 44) * self.scene.scale / self.fps

    def person(self, avoid: tuple[str, ...] = ()) -> Person:
        colors = [c for c in COLORS if c not in avoid]
        return Person.new(self.rng, self.T, self.scene.scale, self.fps, color=str(self.rng.choice(colors)))

    def spot(self, lo: float = 0.3, hi: float = 0.7) -> tuple[float, float]:
        band = self.scene.walk_bands[int(self.rng.integers(len(self.scene.walk_bands)))]
        return self.rng.uniform(lo, hi) * self.scene.width, self.rng.uniform(*band)

    def where(self, x: float) -> str:
        third = ["on the left", "in the middle", "on the right"][min(2, int(3 * x / self.scene.width))]
        return f"{third} of the {self.scene.place}"

    def prop(self, names: tuple[str, ...] | None = None) -> Prop | None:
        w = self.scene.width
        props = [p for p in self.scene.props if (names is None or p.name in names) and 0.1 * w < p.center[0] < 0.9 * w]
        return props[int(self.rng.integers(len(props)))] if props else None

    def say(self, t0: int, t1: int, text: str) -> None:
        self.cast.captions.append((max(0, t0), min(self.T - 1, t1), text))


def arrive(ctx: Ctx, p: Person, t: int, target, speed: float, from_dir: int) -> int:
    """Walk ``p`` in from the ``-from_dir`` side so that it reaches ``target`` at frame ``t``; returns start frame."""
    w, s = ctx.scene.width, ctx.scene.scale
    edge = -8 * s if from_dir > 0 else w + 8 * s
    dist = abs(target[0] - edge)
    t0 = t - int(dist / speed)
    if t0 < 0:  # would have started before the video: start inside the frame on the way
        frac = t / max(1, t - t0)
        edge = target[0] - (target[0] - edge) * frac
        t0 = 0
    walk_segment(p, t0, (edge, target[1]), target, max(speed, abs(target[0] - edge) / max(1, t - t0)))
    return t0


def leave(ctx: Ctx, p: Person, t: int, pos, direction: int, speed: float, pose: int = WALK) -> int:
    w, s = ctx.scene.width, ctx.scene.scale
    edge = w + 10 * s if direction > 0 else -10 * s
    t1 = walk_segment(p, t, pos, (edge, pos[1]), speed, pose)
    p.visible[min(ctx.T, t1 + 1) :] = False
    return t1


def _jitter(ctx: Ctx, n: int, amount: float) -> np.ndarray:
    j = ctx.rng.normal(0, amount * ctx.scene.scale, (n, 2))
    return j


def fighting(ctx: Ctx, a: int, b: int) -> Event:
    s = ctx.scene.scale
    mx, y = ctx.spot()
    p1 = ctx.person()
    p2 = ctx.person(avoid=(p1.color_name,))
    arrive(ctx, p1, a, (mx - 4 * s, y), ctx.walk_speed() * 1.3, +1)
    arrive(ctx, p2, a, (mx + 4 * s, y), ctx.walk_speed() * 1.3, -1)
    fall = a + int((b - a) * ctx.rng.uniform(0.55, 0.75))
    j1, j2 = _jitter(ctx, b - a + 1, 1.6), _jitter(ctx, b - a + 1, 1.6)
    gap = 4 * s + 2.5 * s * np.sin(np.arange(b - a + 1) * 1.3)  # pushing: the gap between them keeps changing
    p1.x[a : b + 1] = mx - gap + j1[:, 0]
    p1.y[a : b + 1] = y + 0.4 * j1[:, 1]
    set_span(p1, a, b, FIGHT, +1)
    p2.x[a:fall] = mx + gap[: fall - a] + j2[: fall - a, 0]
    p2.y[a:fall] = y + 0.4 * j2[: fall - a, 1]
    set_span(p2, a, fall - 1, FIGHT, -1)
    p2.x[fall : b + 1], p2.y[fall : b + 1] = mx + 8 * s, y
    set_span(p2, fall, b, FALLEN, +1)
    leave(ctx, p1, b + 1, (float(p1.x[b]), y), -1, ctx.run_speed() * 0.8, RUN)
    set_span(p2, b + 1, b + ctx.sec(0.6), STAND, +1)
    p2.x[b + 1 : b + ctx.sec(0.6) + 1], p2.y[b + 1 : b + ctx.sec(0.6) + 1] = mx + 8 * s, y
    leave(ctx, p2, b + ctx.sec(0.6) + 1, (mx + 8 * s, y), +1, ctx.walk_speed() * 0.7)
    n1, n2 = p1.caption_name, p2.caption_name
    ctx.say(a - ctx.sec(3), a, f"A {n1} and a {n2} walk toward each other {ctx.where(mx)}.")
    ctx.say(a, fall, f"The two of them start fighting {ctx.where(mx)}, punching and shoving each other.")
    ctx.say(fall, b, f"The {n2} falls to the ground and the {n1} keeps kicking them.")
    ctx.say(b, b + ctx.sec(3), f"The {n1} runs away to the left; the {n2} gets up and walks off.")
    for p in (p1, p2):
        hide_outside(p, ctx.scene.width, ctx.scene.height)
    ctx.cast.people += [p1, p2]
    return Event("Fighting", a, b, [p1, p2])


def robbery(ctx: Ctx, a: int, b: int) -> Event:
    s, w = ctx.scene.scale, ctx.scene.width
    xv, y = ctx.spot(0.3, 0.7)
    d = 1 if ctx.rng.random() < 0.5 else -1  # walking direction of the victim
    victim = ctx.person()
    robber = ctx.person(avoid=(victim.color_name,))
    victim.bag = (160, 30, 90)
    victim.bag_on = np.ones(ctx.T, bool)
    robber.bag, robber.bag_on = victim.bag, np.zeros(ctx.T, bool)
    v_speed = ctx.walk_speed()
    arrive(ctx, victim, a, (xv, y), v_speed, d)
    arrive(ctx, robber, a, (xv - d * 6 * s, y), v_speed * 1.7, d)
    struggle = a + ctx.sec(ctx.rng.uniform(1.2, 1.8))
    n = struggle - a + 1
    jv, jr = _jitter(ctx, n, 1.0), _jitter(ctx, n, 1.0)
    victim.x[a : struggle + 1] = xv + jv[:, 0]
    robber.x[a : struggle + 1] = xv - d * 6 * s + jr[:, 0]
    victim.y[a : struggle + 1], robber.y[a : struggle + 1] = y, y
    set_span(victim, a, struggle, FIGHT, -d)
    set_span(robber, a, struggle, FIGHT, d)
    victim.bag_on[(a + struggle) // 2 :] = False
    robber.bag_on[(a + struggle) // 2 :] = True
    run = d if (w - xv if d > 0 else xv) > w / 2 else -d  # run towards the farther edge
    run_speed = ctx.run_speed()
    leave(ctx, robber, struggle + 1, (float(robber.x[struggle]), y), run, run_speed, RUN)
    hide_outside(robber, w, ctx.scene.height)
    vis = np.flatnonzero(robber.visible[struggle:])
    end = struggle + int(vis[-1]) if len(vis) else struggle
    end = min(end, ctx.T - 1)
    down = struggle + ctx.sec(0.8)
    victim.x[struggle + 1 : down + 1], victim.y[struggle + 1 : down + 1] = xv, y
    set_span(victim, struggle + 1, down, FALLEN, run)
    t = walk_segment(
        victim, down + 1, (xv, y), (xv + run * 0.35 * (end - down) * run_speed, y), run_speed * 0.35, CHASE
    )
    victim.pose[end + 1 :] = STAND
    if t < end:
        set_span(victim, t, end, CHASE, run)
        victim.x[t : end + 1], victim.y[t : end + 1] = victim.x[t - 1], y
    pos = (float(victim.x[min(end, ctx.T - 1)]), y)
    set_span(victim, end + 1, end + ctx.sec(1.0), STAND, run)
    victim.x[end + 1 : end + ctx.sec(1.0) + 1], victim.y[end + 1 : end + ctx.sec(1.0) + 1] = pos
    leave(ctx, victim, end + ctx.sec(1.0) + 1, pos, -run, ctx.walk_speed())
    hide_outside(victim, w, ctx.scene.height)
    nv, nr = victim.caption_name, robber.caption_name
    ctx.say(a - ctx.sec(3), a, f"A {nv} with a bag walks along the {ctx.scene.place}; a {nr} follows quickly behind.")
    ctx.say(a, struggle, f"The {nr} grabs the bag of the {nv} and they struggle over it {ctx.where(xv)}.")
    ctx.say(
        struggle,
        end,
        f"The {nr} pushes the {nv} to the ground and runs away with the bag; the victim chases after them.",
    )
    ctx.cast.people += [victim, robber]
    return Event("Robbery", a, end, [victim, robber])


def road_accident(ctx: Ctx, a: int, b: int) -> Event:
    sc, s, w = ctx.scene, ctx.scene.scale, ctx.scene.width
    ia = int(ctx.rng.integers(len(sc.lanes)))
    ya, da = sc.lanes[ia]
    others = [i for i, (_, d) in enumerate(sc.lanes) if d != da]
    yb, db = sc.lanes[min(others, key=lambda i: abs(sc.lanes[i][0] - ya))]
    xc = ctx.rng.uniform(0.35, 0.65) * w
    ca, cb = Car.new(ctx.rng, ctx.T, s, da), Car.new(ctx.rng, ctx.T, s, db)
    while cb.color_name == ca.color_name:
        cb = Car.new(ctx.rng, ctx.T, s, db)
    va, vb = (ctx.rng.uniform(30, 45) * s / ctx.fps for _ in range(2))
    xa, xb = xc - da * 14 * s, xc + da * 14 * s  # centres at the moment the fronts meet
    ea, eb = (-16 * s if da > 0 else w + 16 * s), (-16 * s if db > 0 else w + 16 * s)
    ta, tb = a - int(abs(xa - ea) / va), a - int(abs(xb - eb) / vb)
    lerp(ca.x, ca.y, ta, a, (ea, ya), (xa, ya))
    swerve = a - ctx.sec(1.0)
    lerp(cb.x, cb.y, tb, a, (eb, yb), (xb, yb))
    cb.y[max(0, swerve) : a + 1] = np.linspace(yb, ya + 2 * s, a + 1 - max(0, swerve))
    back = ctx.sec(0.25)
    lerp(ca.x, ca.y, a, a + back, (xa, ya), (xa - da * 3 * s, ya))
    ca.x[a + back : b + 1], ca.y[a + back : b + 1] = xa - da * 3 * s, ya
    cb.x[a : b + 1], cb.y[a : b + 1] = xb, ya + 2 * s
    for car in (ca, cb):
        car.crashed = np.zeros(ctx.T, bool)
        car.crashed[a : b + 1] = True
        car.hazard = np.zeros(ctx.T, bool)
        car.hazard[a + ctx.sec(0.4) : b + 1] = True
    # afterwards both drive off slowly, the second one back into its lane
    pa = (float(ca.x[b]), ya)
    lerp(
        ca.x,
        ca.y,
        b + 1,
        b + 1 + int(abs((w + 20 * s if da > 0 else -20 * s) - pa[0]) / (va * 0.6)),
        pa,
        (w + 20 * s if da > 0 else -20 * s, ya),
    )
    pb = (float(cb.x[b]), ya + 2 * s)
    lerp(
        cb.x,
        cb.y,
        b + 1,
        b + 1 + int(abs((w + 20 * s if db > 0 else -20 * s) - pb[0]) / (vb * 0.6)),
        pb,
        (w + 20 * s if db > 0 else -20 * s, yb),
    )
    for car in (ca, cb):
        car.visible[:] = (car.x > -16 * s) & (car.x < w + 16 * s) & (np.arange(ctx.T) >= min(ta, tb, a))
        car.visible[: max(0, ta if car is ca else tb)] = False
    ctx.cast.effects.append(fx.Debris(ctx.rng, xc, ya + 4 * s, s, a, b))
    ctx.say(ta, a, f"A {ca.caption_name} drives along the road; a {cb.caption_name} comes the other way.")
    ctx.say(
        a - ctx.sec(1),
        a + ctx.sec(1),
        f"The {cb.caption_name} swerves into the wrong lane and crashes head-on into the {ca.caption_name} in the middle of the road.",
    )
    ctx.say(a, b, "Both cars stop with crumpled fronts and their hazard lights flashing; debris lies on the road.")
    ctx.say(b, b + ctx.sec(4), "The two damaged cars slowly drive away.")
    ctx.cast.cars += [ca, cb]
    return Event("RoadAccidents", a, b, [ca, cb])


def explosion(ctx: Ctx, a: int, b: int) -> Event:
    s = ctx.scene.scale
    prop = ctx.prop(("trash bin", "parked car", "planter", "bench"))
    if prop is not None:
        x, y, what = prop.center[0], prop.y1, f"the {prop.name}"
    else:
        x, y = ctx.spot()
        what = "a parcel on the ground"
    blast = fx.Blast(ctx.rng, x, y - 3 * s, s, a, b, ctx.fps, ctx.T)
    ctx.cast.effects += [fx.Scorch(x, y, s, a), blast]
    # a passer-by near the spot runs away when it goes off
    p = ctx.person()
    d = 1 if ctx.rng.random() < 0.5 else -1
    band = ctx.scene.walk_bands[0]
    py = float(np.clip(y + 6 * s, *band))
    near = (x - d * 18 * s, py)
    arrive(ctx, p, a, near, ctx.walk_speed(), d)
    leave(ctx, p, a + 1, near, -d, ctx.run_speed(), RUN)
    hide_outside(p, ctx.scene.width, ctx.scene.height)
    ctx.cast.people.append(p)
    ctx.say(
        a, a + ctx.sec(1.5), f"An explosion goes off at {what} {ctx.where(x)} with a bright flash and a ball of fire."
    )
    ctx.say(a + ctx.sec(1), b, f"Thick grey smoke rises from the spot while a {p.caption_name} runs away.")
    return Event("Explosion", a, b, [blast])


def arson(ctx: Ctx, a: int, b: int) -> Event:
    s = ctx.scene.scale
    prop = ctx.prop(("trash bin", "bench", "planter", "parked car", "shelf"))
    if prop is not None:
        x, y, what = prop.center[0], prop.y1, f"the {prop.name}"
    else:
        x, y = ctx.spot()
        what = "a pile of boxes"
    band = ctx.scene.walk_bands[0]
    d = -1 if prop.center[0] < ctx.scene.width / 2 else 1  # stand on the side towards the middle
    feet = (x - d * 9 * s, float(np.clip(y + 3 * s, band[0], band[1])))
    p = ctx.person(avoid=("orange", "red", "yellow"))
    arrive(ctx, p, a, feet, ctx.walk_speed(), d)
    crouch_end = a + ctx.sec(1.4)
    p.x[a : crouch_end + 1], p.y[a : crouch_end + 1] = feet
    set_span(p, a, crouch_end, CROUCH, d)
    leave(ctx, p, crouch_end + 1, feet, -d, ctx.run_speed() * 0.7, RUN)
    hide_outside(p, ctx.scene.width, ctx.scene.height)
    fire = fx.Fire(ctx.rng, x, y, s, a + ctx.sec(0.7), a + ctx.sec(3.0), b, ctx.T)
    ctx.cast.effects += [fx.Scorch(x, y, s, a + ctx.sec(2.0)), fire]
    ctx.cast.people.append(p)
    ctx.say(a - ctx.sec(2), a + ctx.sec(1.4), f"A {p.caption_name} walks up to {what} and crouches down next to it.")
    ctx.say(
        a + ctx.sec(0.7), b, f"Flames appear at {what} {ctx.where(x)} and the fire grows while the person hurries away."
    )
    # the crouch before the flames is what a person at a bin also does: the fire is the first visible phase
    return Event("Arson", a, b, [fire, _During(p, a, crouch_end + ctx.sec(0.6))], visible_from=a + ctx.sec(0.7))


def vandalism(ctx: Ctx, a: int, b: int) -> Event:
    s = ctx.scene.scale
    prop = ctx.prop(("shop window", "trash bin", "bench", "parked car", "planter", "shelf", "glass display"))
    if prop is None:  # every scene has props; fall back to a bin drawn on the spot
        x, y = ctx.spot()
        prop = Prop(int(x - 5 * s), int(y - 10 * s), int(x + 5 * s), int(y), "trash bin")
    band = ctx.scene.walk_bands[0]
    d = -1 if prop.center[0] < ctx.scene.width / 2 else 1  # stand on the side towards the middle
    feet = (prop.center[0] - d * (prop.x1 - prop.x0) / 2 - d * 6 * s, float(np.clip(prop.y1 + 2 * s, *band)))
    p = ctx.person()
    arrive(ctx, p, a, feet, ctx.walk_speed(), d)
    p.x[a : b + 1], p.y[a : b + 1] = feet
    set_span(p, a, b, STRIKE, d)
    strikes = [t for t in range(a, b + 1) if t % 3 == 0 and (t // 3) % 2 == 1]
    ctx.cast.effects.append(fx.Damage(ctx.rng, prop, strikes, s))
    leave(ctx, p, b + 1, feet, -d, ctx.walk_speed() * 1.5)
    hide_outside(p, ctx.scene.width, ctx.scene.height)
    ctx.cast.people.append(p)
    ctx.say(a - ctx.sec(2), a, f"A {p.caption_name} walks up to the {prop.name} {ctx.where(feet[0])}.")
    ctx.say(a, b, f"The {p.caption_name} hits the {prop.name} again and again until it cracks and breaks.")
    ctx.say(b, b + ctx.sec(3), f"The {p.caption_name} walks away, leaving the {prop.name} broken.")
    return Event("Vandalism", a, b, [p, _Static(prop)])


def shooting(ctx: Ctx, a: int, b: int) -> Event:
    s = ctx.scene.scale
    xs, y = ctx.spot(0.25, 0.75)
    d = 1 if xs < ctx.scene.width / 2 else -1  # aims towards the middle
    xv = xs + d * ctx.rng.uniform(28, 40) * s
    shooter = ctx.person(avoid=("yellow", "white"))
    victim = ctx.person(avoid=(shooter.color_name,))
    arrive(ctx, shooter, a, (xs, y), ctx.walk_speed(), d)
    arrive(ctx, victim, a + ctx.sec(0.3), (xv, y), ctx.walk_speed(), -d)
    shots = [a + ctx.sec(0.4) + k * ctx.sec(0.45) for k in range(4)]
    aim_end = shots[-1] + ctx.sec(0.4)
    shooter.x[a : aim_end + 1], shooter.y[a : aim_end + 1] = xs, y
    set_span(shooter, a, aim_end, AIM, d)
    hit = shots[0] + 1
    victim.x[hit : b + 1], victim.y[hit : b + 1] = xv, y
    set_span(victim, hit, b, FALLEN, d)
    set_span(victim, a + ctx.sec(0.3), hit - 1, STAND, -d)
    victim.x[a + ctx.sec(0.3) : hit], victim.y[a + ctx.sec(0.3) : hit] = xv, y
    leave(ctx, shooter, aim_end + 1, (xs, y), -d, ctx.run_speed(), RUN)
    leave(ctx, victim, b + 1, (xv, y), d, ctx.walk_speed() * 0.5)
    hand = lambda t: shooter.x[t] + shooter.facing[t] * 14 * s  # noqa: E731
    shoulder = lambda t: shooter.y[t] - 18 * s  # noqa: E731
    ctx.cast.effects.append(fx.Muzzle(hand, shoulder, shots, s))
    for p in (shooter, victim):
        hide_outside(p, ctx.scene.width, ctx.scene.height)
    ctx.cast.people += [shooter, victim]
    ns, nv = shooter.caption_name, victim.caption_name
    ctx.say(a - ctx.sec(2), a, f"A {ns} walks in and stops {ctx.where(xs)}, facing a {nv}.")
    ctx.say(a, aim_end, f"The {ns} raises a gun and fires several shots at the {nv}, who collapses.")
    ctx.say(aim_end, b, f"The {ns} runs away while the {nv} lies on the ground.")
    return Event("Shooting", a, b, [shooter, victim])


SCRIPTS = {
    "Fighting": fighting,
    "Robbery": robbery,
    "RoadAccidents": road_accident,
    "Explosion": explosion,
    "Arson": arson,
    "Vandalism": vandalism,
    "Shooting": shooting,
}
