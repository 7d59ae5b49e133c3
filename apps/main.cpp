#include <cstdio>

int main() {
  std::puts("amusd: under construction");
  return 0;
}
