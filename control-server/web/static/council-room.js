// The council-room page.
