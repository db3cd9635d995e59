/* placeholder */
typedef int make_iso_c_happy_input;
