"""tuiphone.widgets"""
