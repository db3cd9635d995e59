/* The benchmark's floors (qvt-empty-dynamic, qvt-empty-static): a
 * program that does nothing, linked as ours are or statically, so its
 * spawn time is what any program pays before doing anything. */
int main(void)
{
	return 0;
}
