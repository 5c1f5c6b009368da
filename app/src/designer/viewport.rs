//! Viewport maths for the canvas: where a world point (where nodes live) is on the screen, and
//! back; zooming about a point; fitting a drawing into the view. Pure functions, unit-tested.

/// Width and height of a node on the canvas, in world units.
pub const NODE_W: f64 = 150.0;
pub const NODE_H: f64 = 46.0;
pub const MIN_ZOOM: f64 = 0.2;
pub const MAX_ZOOM: f64 = 3.0;
/// Nodes land on this grid when dropped or moved.
pub const GRID: f64 = 10.0;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    pub fn offset(self, by: Point) -> Point {
        Point::new(self.x + by.x, self.y + by.y)
    }

    pub fn minus(self, other: Point) -> Point {
        Point::new(self.x - other.x, self.y - other.y)
    }

    /// Rounded to the grid.
    pub fn snapped(self) -> Point {
        Point::new(
            (self.x / GRID).round() * GRID,
            (self.y / GRID).round() * GRID,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    /// The rectangle spanned by two corners, in any order.
    pub fn spanning(a: Point, b: Point) -> Rect {
        Rect {
            x: a.x.min(b.x),
            y: a.y.min(b.y),
            w: (a.x - b.x).abs(),
            h: (a.y - b.y).abs(),
        }
    }

    /// The rectangle of the node whose top-left corner is `at`.
    pub fn node(at: Point) -> Rect {
        Rect {
            x: at.x,
            y: at.y,
            w: NODE_W,
            h: NODE_H,
        }
    }

    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.x && p.x <= self.x + self.w && p.y >= self.y && p.y <= self.y + self.h
    }

    pub fn intersects(&self, other: &Rect) -> bool {
        self.x <= other.x + other.w
            && other.x <= self.x + self.w
            && self.y <= other.y + other.h
            && other.y <= self.y + self.h
    }

    /// The smallest rectangle holding every node placed at `corners`; `None` for none.
    pub fn around_nodes(corners: impl IntoIterator<Item = Point>) -> Option<Rect> {
        let mut bounds: Option<(Point, Point)> = None;
        for p in corners {
            let far = Point::new(p.x + NODE_W, p.y + NODE_H);
            bounds = Some(match bounds {
                None => (p, far),
                Some((lo, hi)) => (
                    Point::new(lo.x.min(p.x), lo.y.min(p.y)),
                    Point::new(hi.x.max(far.x), hi.y.max(far.y)),
                ),
            });
        }
        bounds.map(|(lo, hi)| Rect::spanning(lo, hi))
    }
}

/// Which part of the world the canvas shows: the world point at the canvas's top-left corner
/// and the scale (screen pixels per world unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    pub origin: Point,
    pub zoom: f64,
}

impl Default for Viewport {
    fn default() -> Self {
        Self {
            origin: Point::new(-20.0, -20.0),
            zoom: 1.0,
        }
    }
}

impl Viewport {
    /// The world point under a point of the canvas (pixels from its top-left corner).
    pub fn to_world(&self, screen: Point) -> Point {
        Point::new(
            self.origin.x + screen.x / self.zoom,
            self.origin.y + screen.y / self.zoom,
        )
    }

    pub fn to_screen(&self, world: Point) -> Point {
        Point::new(
            (world.x - self.origin.x) * self.zoom,
            (world.y - self.origin.y) * self.zoom,
        )
    }

    /// Zoomed by `factor` (clamped to the allowed range) keeping the world point under
    /// `screen` where it is.
    pub fn zoom_at(&self, screen: Point, factor: f64) -> Viewport {
        let zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let anchor = self.to_world(screen);
        Viewport {
            origin: Point::new(anchor.x - screen.x / zoom, anchor.y - screen.y / zoom),
            zoom,
        }
    }

    /// Moved so that the drawing follows the pointer by `screen_delta` pixels.
    pub fn panned(&self, screen_delta: Point) -> Viewport {
        Viewport {
            origin: Point::new(
                self.origin.x - screen_delta.x / self.zoom,
                self.origin.y - screen_delta.y / self.zoom,
            ),
            zoom: self.zoom,
        }
    }

    /// The viewport showing all of `bounds`, centred, with `margin` pixels around it, in a canvas
    /// of `width` × `height` pixels; never zoomed in past 1.
    pub fn fit(bounds: Rect, width: f64, height: f64, margin: f64) -> Viewport {
        let usable_w = (width - 2.0 * margin).max(1.0);
        let usable_h = (height - 2.0 * margin).max(1.0);
        let zoom = (usable_w / bounds.w.max(1.0))
            .min(usable_h / bounds.h.max(1.0))
            .clamp(MIN_ZOOM, 1.0);
        let centre = Point::new(bounds.x + bounds.w / 2.0, bounds.y + bounds.h / 2.0);
        Viewport {
            origin: Point::new(
                centre.x - width / 2.0 / zoom,
                centre.y - height / 2.0 / zoom,
            ),
            zoom,
        }
    }

    /// The same zoom, moved so that `world` is at the centre of a `width` × `height` canvas.
    pub fn centred_on(&self, world: Point, width: f64, height: f64) -> Viewport {
        Viewport {
            origin: Point::new(
                world.x - width / 2.0 / self.zoom,
                world.y - height / 2.0 / self.zoom,
            ),
            zoom: self.zoom,
        }
    }

    /// Whether the whole of `rect` is in view on a `width` × `height` canvas.
    pub fn shows(&self, rect: Rect, width: f64, height: f64) -> bool {
        let a = self.to_screen(Point::new(rect.x, rect.y));
        let b = self.to_screen(Point::new(rect.x + rect.w, rect.y + rect.h));
        a.x >= 0.0 && a.y >= 0.0 && b.x <= width && b.y <= height
    }

    /// The SVG transform that draws world coordinates through this viewport.
    pub fn transform(&self) -> String {
        format!(
            "scale({}) translate({} {})",
            self.zoom, -self.origin.x, -self.origin.y
        )
    }
}

/// The SVG path of an edge from the output port of the node at `from` to the input port of the
/// node at `to`: a curve leaving rightwards and arriving from the left.
pub fn edge_path(from: Point, to: Point) -> String {
    let start = Point::new(from.x + NODE_W, from.y + NODE_H / 2.0);
    let end = Point::new(to.x, to.y + NODE_H / 2.0);
    link_path(start, end)
}

/// A curve from a port to any point (the line drawn while connecting).
pub fn link_path(start: Point, end: Point) -> String {
    let bend = ((end.x - start.x).abs() / 2.0).max(40.0);
    format!(
        "M {} {} C {} {}, {} {}, {} {}",
        start.x,
        start.y,
        start.x + bend,
        start.y,
        end.x - bend,
        end.y,
        end.x,
        end.y
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Point, b: Point) -> bool {
        (a.x - b.x).abs() < 1e-9 && (a.y - b.y).abs() < 1e-9
    }

    #[test]
    fn world_and_screen_are_inverse() {
        let v = Viewport {
            origin: Point::new(-30.0, 12.5),
            zoom: 1.7,
        };
        let p = Point::new(123.0, -45.0);
        assert!(close(v.to_world(v.to_screen(p)), p));
        assert!(close(
            v.to_screen(Point::new(-30.0, 12.5)),
            Point::default()
        ));
    }

    #[test]
    fn zooming_keeps_the_point_under_the_cursor() {
        let v = Viewport::default();
        let cursor = Point::new(200.0, 150.0);
        let before = v.to_world(cursor);
        let zoomed = v.zoom_at(cursor, 1.5);
        assert!((zoomed.zoom - 1.5).abs() < 1e-9);
        assert!(close(zoomed.to_world(cursor), before));
    }

    #[test]
    fn zoom_is_clamped() {
        let v = Viewport::default();
        assert_eq!(v.zoom_at(Point::default(), 100.0).zoom, MAX_ZOOM);
        assert_eq!(v.zoom_at(Point::default(), 0.0001).zoom, MIN_ZOOM);
    }

    #[test]
    fn panning_follows_the_pointer_at_any_zoom() {
        let v = Viewport {
            origin: Point::new(0.0, 0.0),
            zoom: 2.0,
        };
        let world = Point::new(50.0, 50.0);
        let before = v.to_screen(world);
        let panned = v.panned(Point::new(40.0, -10.0));
        assert!(close(
            panned.to_screen(world),
            Point::new(before.x + 40.0, before.y - 10.0)
        ));
    }

    #[test]
    fn fit_shows_everything_centred_and_never_magnifies() {
        let bounds =
            Rect::around_nodes([Point::new(0.0, 0.0), Point::new(1850.0, 454.0)]).expect("bounds");
        assert_eq!((bounds.w, bounds.h), (2000.0, 500.0));
        let v = Viewport::fit(bounds, 1000.0, 600.0, 20.0);
        assert!((v.zoom - 0.48).abs() < 1e-9);
        let top_left = v.to_screen(Point::new(bounds.x, bounds.y));
        let bottom_right = v.to_screen(Point::new(bounds.x + bounds.w, bounds.y + bounds.h));
        assert!(top_left.x >= 19.9 && bottom_right.x <= 980.1);
        assert!((top_left.y - (600.0 - bottom_right.y)).abs() < 1e-9);
        let small = Rect::node(Point::default());
        assert_eq!(Viewport::fit(small, 1000.0, 600.0, 20.0).zoom, 1.0);
    }

    #[test]
    fn a_node_out_of_view_is_brought_to_the_centre() {
        let v = Viewport {
            origin: Point::new(0.0, 0.0),
            zoom: 2.0,
        };
        let far = Rect::node(Point::new(900.0, 50.0));
        assert!(!v.shows(far, 800.0, 600.0));
        assert!(v.shows(Rect::node(Point::new(10.0, 10.0)), 800.0, 600.0));
        let moved = v.centred_on(Point::new(975.0, 73.0), 800.0, 600.0);
        assert!(close(
            moved.to_screen(Point::new(975.0, 73.0)),
            Point::new(400.0, 300.0)
        ));
        assert!(moved.shows(far, 800.0, 600.0));
    }

    #[test]
    fn rectangles_hit_and_overlap() {
        let r = Rect::spanning(Point::new(100.0, 100.0), Point::new(0.0, 0.0));
        assert_eq!((r.x, r.y, r.w, r.h), (0.0, 0.0, 100.0, 100.0));
        assert!(r.contains(Point::new(50.0, 100.0)));
        assert!(!r.contains(Point::new(50.0, 100.1)));
        assert!(r.intersects(&Rect::node(Point::new(90.0, 90.0))));
        assert!(!r.intersects(&Rect::node(Point::new(101.0, 0.0))));
        assert_eq!(Point::new(14.0, 26.0).snapped(), Point::new(10.0, 30.0));
    }
}
