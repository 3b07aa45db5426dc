// Minimal SVG line charts for run reports (no plotting dependency): one chart = a title, x/y axis labels and a few
// named series of (x, y) points, drawn with nice tick steps and a legend. Points with non-finite y are skipped.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace nanoseek {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

struct Chart {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  int width = 640, height = 320;
};

std::string render_svg(const Chart& c);

}  // namespace nanoseek
