#include <astron/event.h>
int main(void) { ASTRON_EVENT("demo", "n=%d", 1); return 0; }
