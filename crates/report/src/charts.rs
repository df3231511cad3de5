//! The report's charts as inline SVG, drawn with plotters. Each function returns one `<svg>` element.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::ReportError;

/// Chart size in pixels.
const SIZE: (u32, u32) = (460, 340);
const MODEL: RGBColor = RGBColor(31, 119, 180);
const REFERENCE: RGBColor = RGBColor(150, 150, 150);
const ACCENT: RGBColor = RGBColor(214, 39, 40);
const FONT: &str = "sans-serif";

/// A line chart on `[0, 1] × [0, y_max]` with an optional dashed reference line.
pub struct LineChart<'a> {
    /// Caption above the chart.
    pub caption: &'a str,
    /// X axis description.
    pub x_label: &'a str,
    /// Y axis description.
    pub y_label: &'a str,
    /// The model's curve.
    pub points: &'a [[f64; 2]],
    /// A reference curve (chance, perfect calibration…) drawn in grey, with its legend.
    pub reference: Option<(&'a [[f64; 2]], &'a str)>,
    /// Mark every point (for short curves such as reliability bins).
    pub markers: bool,
    /// Where the legend goes (where the curve is not); there is one only with a reference curve.
    pub legend: SeriesLabelPosition,
    /// X range.
    pub x_range: (f64, f64),
    /// Y range.
    pub y_range: (f64, f64),
}

impl LineChart<'_> {
    /// The chart as SVG.
    pub fn svg(&self) -> Result<String, ReportError> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(chart_error)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(self.caption, (FONT, 16))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(52)
                .build_cartesian_2d(self.x_range.0..self.x_range.1, self.y_range.0..self.y_range.1)
                .map_err(chart_error)?;
            chart
                .configure_mesh()
                .x_desc(self.x_label)
                .y_desc(self.y_label)
                .light_line_style(WHITE.mix(0.0))
                .label_style((FONT, 12))
                .draw()
                .map_err(chart_error)?;
            if let Some((reference, name)) = self.reference {
                chart
                    .draw_series(LineSeries::new(
                        reference.iter().map(|p| (p[0], p[1])),
                        REFERENCE.stroke_width(1),
                    ))
                    .map_err(chart_error)?
                    .label(name)
                    .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], REFERENCE));
            }
            chart
                .draw_series(LineSeries::new(
                    self.points.iter().map(|p| (p[0], p[1])),
                    MODEL.stroke_width(2),
                ))
                .map_err(chart_error)?
                .label("model")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], MODEL.stroke_width(2)));
            if self.markers {
                chart
                    .draw_series(self.points.iter().map(|p| Circle::new((p[0], p[1]), 3, MODEL.filled())))
                    .map_err(chart_error)?;
            }
            if self.reference.is_some() {
                legend(&mut chart, self.legend.clone())?;
            }
            root.present().map_err(chart_error)?;
        }
        Ok(svg)
    }
}

/// One horizontal bar: label, value and an optional ± error.
pub struct Bar {
    /// Shown left of the bar.
    pub label: String,
    /// Bar length.
    pub value: f64,
    /// Half-width of the error line drawn across the bar's end.
    pub error: Option<f64>,
}

/// Horizontal bars, first bar on top.
pub fn bars(caption: &str, x_label: &str, bars: &[Bar]) -> Result<String, ReportError> {
    let mut svg = String::new();
    let height = 70 + 22 * bars.len() as u32;
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0 + 140, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let top = bars
            .iter()
            .map(|b| b.value + b.error.unwrap_or(0.0))
            .fold(0.0, f64::max)
            .max(1e-12);
        let low = bars
            .iter()
            .map(|b| b.value - b.error.unwrap_or(0.0))
            .fold(0.0, f64::min);
        let n = bars.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(200)
            .build_cartesian_2d(low * 1.05..top * 1.05, -0.5..n as f64 - 0.5)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .y_labels(n.max(1))
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() > 1e-6 || i < 0.0 || i as usize >= n {
                    return String::new();
                }
                bars[n - 1 - i as usize].label.clone()
            })
            .label_style((FONT, 12))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(k, b)| {
                let y = (n - 1 - k) as f64;
                Rectangle::new([(0.0, y - 0.35), (b.value, y + 0.35)], MODEL.mix(0.8).filled())
            }))
            .map_err(chart_error)?;
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(k, b)| {
                let y = (n - 1 - k) as f64;
                let e = b.error?;
                Some(PathElement::new(
                    [(b.value - e, y), (b.value + e, y)],
                    BLACK.stroke_width(1),
                ))
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A histogram of `counts` over equal-width bins from `from` to `to`, with a vertical marker line at each
/// of `marks` (value, legend).
pub fn histogram(
    caption: &str,
    x_label: &str,
    (from, to): (f64, f64),
    counts: &[usize],
    marks: &[(f64, &str)],
) -> Result<String, ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        let width = (to - from) / counts.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(from..to, 0.0..top * 1.08)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("accounts")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(WHITE.mix(0.0))
            .label_style((FONT, 12))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(k, &c)| {
                let x = from + k as f64 * width;
                Rectangle::new([(x, 0.0), (x + width, c as f64)], MODEL.mix(0.8).filled())
            }))
            .map_err(chart_error)?;
        for &(value, name) in marks {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    [(value, 0.0), (value, top * 1.08)],
                    ACCENT.stroke_width(1),
                )))
                .map_err(chart_error)?
                .label(name)
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], ACCENT));
        }
        if !marks.is_empty() {
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Draws the legend of the labelled series.
fn legend<'a>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> Result<(), ReportError> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(REFERENCE)
        .label_font((FONT, 12))
        .draw()
        .map_err(chart_error)
}

fn chart_error<E: std::fmt::Debug>(error: E) -> ReportError {
    ReportError::Chart(format!("{error:?}"))
}
