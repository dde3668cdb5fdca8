"""The app's Plotly figures, one module beside each page that shows them, and `axes`
for what they share (ticks, floors, titles, config, presentation styling)."""
